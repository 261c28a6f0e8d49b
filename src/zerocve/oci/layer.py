"""Deterministic layer tarballs: the same entries always give the same bytes.

The rules, so that two builds of the same inputs produce byte-identical layers:

* entries are written sorted by path components (a directory right before its contents);
* GNU tar format throughout (long names through ``././@LongLink``, never PAX headers), names
  encoded as UTF-8, numeric owners only (empty user and group names), mtimes clamped to the
  build's ``SOURCE_DATE_EPOCH``;
* hard links: within one layer, of the paths sharing one file the first in sorted order is
  written as the regular file and the others as links to it (a tar link must follow its
  target), so a link whose target lives in another layer is written as a plain copy;
* gzip through zlib at a fixed level, in fixed-size blocks compressed on every core
  (``oci.gzip_blocks``: the bytes do not depend on the number of threads), with a zero
  mtime and no file name in the header.

Memory: a file's content is either bytes or, when large, ``Spilled`` (an unlinked temporary
file); a layer's tar is streamed through the hash and the compressor (or, while its
``diff_id`` is looked up in the layer store, a spool that moves to disk past 8 MiB) and never
held whole in memory, so a build holds what it compresses to, not what it expands to.

Every entry written goes through ``check_entry``, the same rules that guard each ``.deb``'s
data as it is read (``debian.deb``): a last line of defense, so that no spec field, account
or generated file can put an entry into a layer that lands anywhere but where it says.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import Enum
from typing import IO, BinaryIO, Protocol, cast

from zerocve.errors import BuildError
from zerocve.oci.gzip_blocks import BlockGzip

# gzip level 2: a third of the CPU time of the usual level 6 (two thirds of level 4's) for
# layers 4.6% larger than level 4's (README, "How an image is made"); deflating is the
# largest share of a cold build's CPU after the .debs' xz. Level 1 saves less than a tenth
# more, for layers 7% larger than level 4's.
GZIP_LEVEL = 2
_CHUNK = 1 << 20
_SPOOL_MEMORY = 8 << 20  # a layer's tar past this waits for its diff_id on disk, not in memory


def spill_file() -> IO[bytes]:
    """An unlinked temporary file for ``Spilled`` contents (the OS frees it with the last
    reference); one per source of contents (a ``.deb``) keeps the open files few."""
    return tempfile.TemporaryFile(prefix="zerocve-spill-")  # noqa: SIM115 - lives on


@dataclass(frozen=True, eq=False)
class Spilled:
    """File content kept on disk, at ``offset`` in a ``spill_file``; read by offset, so that
    threads writing layers in parallel can share it."""

    file: IO[bytes]
    offset: int
    size: int
    sha256: str  # hex

    @classmethod
    def copy(cls, read: Callable[[int], bytes], size: int, into: IO[bytes]) -> Spilled:
        """The next ``size`` bytes ``read(n)`` gives, appended to ``into``; EOFError when
        they end before that."""
        offset = into.seek(0, os.SEEK_END)
        digest = hashlib.sha256()
        left = size
        while left:
            piece = read(min(_CHUNK, left))
            if not piece:
                raise EOFError(f"content ended {left} bytes short")
            digest.update(piece)
            into.write(piece)
            left -= len(piece)
        into.flush()
        return cls(into, offset, size, digest.hexdigest())

    def chunks(self) -> Iterator[bytes]:
        done = 0
        while done < self.size:
            want = min(_CHUNK, self.size - done)
            piece = os.pread(self.file.fileno(), want, self.offset + done)
            if not piece:
                raise OSError(f"spilled content shrank at byte {done}")
            done += len(piece)
            yield piece


Content = bytes | Spilled


def content_size(content: Content) -> int:
    return content.size if isinstance(content, Spilled) else len(content)


def content_chunks(content: Content) -> Iterator[bytes]:
    if isinstance(content, Spilled):
        yield from content.chunks()
    elif content:
        yield content


def same_content(a: Content, b: Content) -> bool:
    if isinstance(a, bytes) and isinstance(b, bytes):
        return a == b
    return content_size(a) == content_size(b) and _sha256(a) == _sha256(b)


def _sha256(content: Content) -> str:
    return content.sha256 if isinstance(content, Spilled) else hashlib.sha256(content).hexdigest()


def read_content(content: Content, limit: int) -> bytes | None:
    """The whole content as bytes, or None when it is over ``limit`` bytes (a caller that
    needs a file in memory says how large it may be)."""
    if content_size(content) > limit:
        return None
    return b"".join(content_chunks(content))


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
    data: Content = b""
    target: str = ""

    @property
    def size(self) -> int:
        return content_size(self.data)

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


class _Sink:
    """Where a layer's tar goes as it is written: through SHA256 (the ``diff_id``) and on to
    ``out`` (a compressor or a spool), when there is one; the tar itself is never kept."""

    def __init__(self, out: BinaryIO | BlockGzip | None = None) -> None:
        self.hash = hashlib.sha256()
        self._out = out

    def write(self, data: bytes | memoryview) -> int:
        self.hash.update(data)
        if self._out is not None:
            self._out.write(data)
        return len(data)


class UnsafeEntry(ValueError):
    """A tar entry that would land somewhere other than the path it names (the message
    names neither the archive nor the entry: callers do)."""


def normalise_name(name: str) -> str:
    """``./usr/bin/`` -> ``usr/bin``. Refused: absolute names and ``..`` components (they
    escape the root), ``.wh.`` names (an OCI whiteout: in a layer it would delete files of
    the layers below), and names the dpkg database cannot hold: a newline (dpkg refuses it:
    ``.list`` files are one path a line) or bytes that are not UTF-8 (tarfile hands them over
    as surrogate escapes)."""
    if "\n" in name:
        raise UnsafeEntry("newline in a file name (dpkg refuses it)")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeEntry("file name is not UTF-8, refused") from None
    if name.startswith("/"):
        raise UnsafeEntry("absolute path in data archive")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeEntry("path escapes the root ('..')")
    if any(p.startswith(".wh.") for p in parts):
        raise UnsafeEntry("'.wh.' names are OCI whiteouts, refused")
    return "/".join(parts)


def parents(path: str) -> Iterator[str]:
    """The ancestors of a normalised relative path, nearest first: ``a/b/c`` gives ``a/b``
    then ``a``. (``posixpath.dirname`` gives the same for such paths, at several times the
    cost: every entry of every package and layer walks its parents.)"""
    end = path.rfind("/")
    while end > 0:
        yield path[:end]
        end = path.rfind("/", 0, end)


def check_entry(
    path: str, kind: EntryKind, target: str, earlier: Mapping[str, EntryKind]
) -> None:
    """The rules for one entry of a tar archive, given the entries ``earlier`` in it (path
    → kind; the caller records this one after): one entry per path; nothing below a symlink
    or file of the same archive (extracting it would write through the link); a hard link
    only to a regular file earlier in the archive (tar semantics), never absolute or
    climbing. ``path`` is already normalised."""
    if path in earlier:
        raise UnsafeEntry("duplicate member")
    for parent in parents(path):
        above = earlier.get(parent)
        if above is not None and above is not EntryKind.DIR:
            raise UnsafeEntry(f"lies below {above.value} /{parent} of the same archive (it "
                              "would be written through it, escaping the path it names)")
    if kind is EntryKind.HARDLINK:
        if target.startswith("/"):
            raise UnsafeEntry(f"hard link to absolute path {target}")
        if earlier.get(normalise_name(target)) is not EntryKind.FILE:
            raise UnsafeEntry(f"hard link to {target}, which is not a regular file earlier "
                              "in the archive")


def _write_tar(entries: Iterable[Entry], epoch: int, out: _Sink | BinaryIO) -> None:
    """Write the layer tarball of ``entries``; an entry ``check_entry`` refuses (or whose
    path is not normalised) is a BuildError.

    The bytes are exactly what ``tarfile.TarFile.addfile`` then ``close`` write (the same
    headers from ``TarInfo.tobuf``, each file padded to a block, two zero blocks, the whole
    padded to a record), without its per-member copies and 16 KiB reads: contents go out
    in the chunks they are held in."""
    ordered = sorted(entries, key=lambda e: e.sort_key)
    written: dict[str, str] = {}  # file identity (its own or its link target's path) -> path
    kinds: dict[str, EntryKind] = {}  # as written, for check_entry
    offset = 0
    for entry in ordered:
        info = tarfile.TarInfo(entry.path)
        info.mode = entry.mode & 0o7777
        info.uid, info.gid = entry.uid, entry.gid
        info.uname = info.gname = ""
        info.mtime = min(entry.mtime, epoch)
        payload: Content | None = None
        kind = entry.kind
        if kind in (EntryKind.FILE, EntryKind.HARDLINK):
            identity = entry.target if kind is EntryKind.HARDLINK else entry.path
            first = written.get(identity)
            if first is None:
                written[identity] = entry.path
                kind, payload = EntryKind.FILE, entry.data
                info.size = content_size(payload)
            else:
                kind = EntryKind.HARDLINK
                info.linkname = first
        elif kind is EntryKind.SYMLINK:
            info.linkname = entry.target
        try:
            if not entry.path or normalise_name(entry.path) != entry.path:
                raise UnsafeEntry("not a normalised relative path")
            check_entry(entry.path, kind, info.linkname, kinds)
        except UnsafeEntry as e:
            raise BuildError(f"layer entry {entry.path!r}: {e}") from None
        kinds[entry.path] = kind
        info.type = _TYPES[kind]
        header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
        out.write(header)
        offset += len(header)
        if payload is not None:
            for chunk in content_chunks(payload):
                out.write(chunk)
            tail = info.size % tarfile.BLOCKSIZE
            if tail:
                out.write(tarfile.NUL * (tarfile.BLOCKSIZE - tail))
            offset += -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    end = tarfile.NUL * (2 * tarfile.BLOCKSIZE)
    offset += len(end)
    out.write(end + tarfile.NUL * (-offset % tarfile.RECORDSIZE))


def tar_bytes(entries: Iterable[Entry], epoch: int) -> bytes:
    """The uncompressed layer tarball of ``entries``, in memory (for small layers and tests;
    ``make_layer`` streams)."""
    buffer = io.BytesIO()
    _write_tar(entries, epoch, buffer)
    return buffer.getvalue()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LayerStore(Protocol):
    """Where compressed layers are kept between builds, found by ``diff_id``."""

    def compressed_layer(self, diff_id: str) -> bytes | None: ...
    def store_layer(self, diff_id: str, compressed: bytes) -> None: ...


def make_layer(
    entries: Iterable[Entry],
    epoch: int,
    comment: str,
    store: LayerStore | None = None,
    pool: Executor | None = None,
) -> Layer:
    """The layer of ``entries``, gzipped in blocks on ``pool`` (``gzip_blocks``); with a
    ``store``, a tar built before is not compressed again (compression is most of a build's
    time). The tar is written once: straight into the compressor without a store; with one,
    into a spool (memory, then an unlinked temporary file) until its ``diff_id`` says
    whether it must be compressed."""
    if store is None:
        packer = BlockGzip(GZIP_LEVEL, pool)
        sink = _Sink(packer)
        _write_tar(entries, epoch, sink)
        compressed = packer.finish()
        return Layer(compressed, sha256_digest(compressed), "sha256:" + sink.hash.hexdigest(),
                     comment)
    with tempfile.SpooledTemporaryFile(_SPOOL_MEMORY, prefix="zerocve-layer-") as spool:
        sink = _Sink(cast(BinaryIO, spool))
        _write_tar(entries, epoch, sink)
        diff_id = "sha256:" + sink.hash.hexdigest()
        found = store.compressed_layer(diff_id)
        if found is None:
            spool.seek(0)
            packer = BlockGzip(GZIP_LEVEL, pool)
            while chunk := spool.read(_CHUNK):
                packer.write(chunk)
            found = packer.finish()
            store.store_layer(diff_id, found)
    return Layer(found, sha256_digest(found), diff_id, comment)
