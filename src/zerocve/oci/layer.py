"""Deterministic layer tarballs: the same entries always give the same bytes.

The rules, so that two builds of the same inputs produce byte-identical layers:

* entries are written sorted by path components (a directory right before its contents);
* GNU tar format throughout (long names through ``././@LongLink``, never PAX headers), names
  encoded as UTF-8, numeric owners only (empty user and group names), mtimes clamped to the
  build's ``SOURCE_DATE_EPOCH``;
* hard links: within one layer, of the paths sharing one file the first in sorted order is
  written as the regular file and the others as links to it (a tar link must follow its
  target), so a link whose target lives in another layer is written as a plain copy;
* gzip through zlib at a fixed level with a zero mtime and no file name in the header.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

GZIP_LEVEL = 6


class EntryKind(Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"


@dataclass(frozen=True)
class Entry:
    """One file system entry of a layer.

    ``path`` is relative to the root, normalised, without ``./`` or a trailing slash. For a
    symlink ``target`` is the link text; for a hard link it is the path of the file linked to,
    and ``data`` repeats that file's content (so the link can be written as a copy when its
    target is not in the same layer).
    """

    path: str
    kind: EntryKind
    mode: int
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    data: bytes = b""
    target: str = ""

    @property
    def sort_key(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))


@dataclass(frozen=True)
class Layer:
    """A compressed layer blob with its uncompressed digest (the config's ``diff_id``)."""

    data: bytes  # gzip-compressed tar
    digest: str  # sha256 of ``data``
    diff_id: str  # sha256 of the uncompressed tar
    comment: str  # what the layer holds, for the config history

    @property
    def size(self) -> int:
        return len(self.data)


_TYPES = {
    EntryKind.FILE: tarfile.REGTYPE,
    EntryKind.DIR: tarfile.DIRTYPE,
    EntryKind.SYMLINK: tarfile.SYMTYPE,
    EntryKind.HARDLINK: tarfile.LNKTYPE,
}


def tar_bytes(entries: Iterable[Entry], epoch: int) -> bytes:
    """The uncompressed layer tarball of ``entries`` (one entry per path, else ValueError)."""
    ordered = sorted(entries, key=lambda e: e.sort_key)
    buffer = io.BytesIO()
    written: dict[str, str] = {}  # file identity (its own or its link target's path) -> path
    previous: str | None = None
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8"
    ) as tar:
        for entry in ordered:
            if entry.path == previous:
                raise ValueError(f"two layer entries for {entry.path}")
            previous = entry.path
            info = tarfile.TarInfo(entry.path)
            info.mode = entry.mode & 0o7777
            info.uid, info.gid = entry.uid, entry.gid
            info.uname = info.gname = ""
            info.mtime = min(entry.mtime, epoch)
            payload: bytes | None = None
            kind = entry.kind
            if kind in (EntryKind.FILE, EntryKind.HARDLINK):
                identity = entry.target if kind is EntryKind.HARDLINK else entry.path
                first = written.get(identity)
                if first is None:
                    written[identity] = entry.path
                    kind, payload = EntryKind.FILE, entry.data
                    info.size = len(payload)
                else:
                    kind = EntryKind.HARDLINK
                    info.linkname = first
            elif kind is EntryKind.SYMLINK:
                info.linkname = entry.target
            info.type = _TYPES[kind]
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buffer.getvalue()


def gzip_bytes(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """gzip with a fixed header (mtime 0, no name, OS 'unix' as zlib writes it)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31, 9)
    return compressor.compress(data) + compressor.flush()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LayerStore(Protocol):
    """Where compressed layers are kept between builds, found by ``diff_id``."""

    def compressed_layer(self, diff_id: str) -> bytes | None: ...
    def store_layer(self, diff_id: str, compressed: bytes) -> None: ...


def make_layer(
    entries: Iterable[Entry], epoch: int, comment: str, store: LayerStore | None = None
) -> Layer:
    """The layer of ``entries``; with a ``store``, a tar built before is not compressed
    again (compression is most of a build's time)."""
    raw = tar_bytes(entries, epoch)
    diff_id = sha256_digest(raw)
    compressed = store.compressed_layer(diff_id) if store is not None else None
    if compressed is None:
        compressed = gzip_bytes(raw)
        if store is not None:
            store.store_layer(diff_id, compressed)
    return Layer(compressed, sha256_digest(compressed), diff_id, comment)
