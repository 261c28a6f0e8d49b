"""The file tree of an image, from its layers, without unpacking it.

Layers (tar, gzip- or zstd-compressed) are applied in order as the OCI image spec says
(``layer.md``: "Whiteouts"): ``.wh.NAME`` deletes ``NAME`` and everything under it from the
layers below, ``.wh..wh..opq`` hides everything below in its directory, and both apply to
lower layers only, whatever their place in the tar. Each layer is streamed once; the tree
keeps every entry's kind and link target (cheap) but the content only of the few files a
predicate wants, re-reading one layer later for a wanted file reached through an unexpected
link. Each blob's SHA256 is checked as it streams: a truncated or altered layer is an error,
not a silently shorter package list.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

import zstandard

from zerocve.errors import InventoryError
from zerocve.inventory.tree import Node, Tree, normalize

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Layer:
    """One layer blob: its digest (``sha256:…``) and how to open its bytes."""

    digest: str
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass
class _Entry:
    node: Node
    layer: int
    data: bytes | None = None  # kept for wanted regular files only
    hardlink: str = ""  # for a hard link: the member it links to, in the same layer


class _HashingReader(io.RawIOBase):
    """Reads through to ``raw`` while hashing, so the digest is checked in the same pass."""

    def __init__(self, raw: BinaryIO, algorithm: str) -> None:
        self._raw = raw
        self.hash = hashlib.new(algorithm)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        self.hash.update(data)
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def _members(layer: Layer) -> Iterator[Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]]:
    """Stream ``layer``'s tar members (with a reader for regular files); on exit, check the
    blob's digest."""
    algorithm, _, expected = layer.digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise InventoryError(f"layer {layer.digest}: unsupported digest algorithm")
    with layer.open() as raw:
        hashing = _HashingReader(raw, algorithm)
        buffered = io.BufferedReader(hashing, 1 << 16)
        magic = buffered.peek(4)[:4]
        stream: IO[bytes]
        if magic.startswith(_GZIP):
            stream = cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
        elif magic.startswith(_ZSTD):
            stream = zstandard.ZstdDecompressor().stream_reader(buffered)
        else:
            stream = buffered
        try:
            with tarfile.open(fileobj=stream, mode="r|") as archive:

                def iterate() -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
                    for member in archive:
                        reader = archive.extractfile(member) if member.isreg() else None
                        yield member, reader

                yield iterate()
            while buffered.read(1 << 20):  # the tar end marker may precede padding
                pass
        except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError) as e:
            raise InventoryError(f"layer {layer.digest}: unreadable tar: {e}") from e
    if hashing.hash.hexdigest() != expected:
        raise InventoryError(f"layer {layer.digest}: content does not match its digest")


def _member_path(name: str) -> str | None:
    path = normalize(name)
    if any(part == ".." for part in path.split("/")):
        return None  # an entry escaping the root never lands in a real extraction either
    return path


class LayeredTree(Tree):
    """The merged tree of ``layers``, bottom first. ``wanted(path)`` says which regular
    files' contents to keep while streaming (by their path in the layer)."""

    def __init__(
        self, layers: Sequence[Layer], wanted: Callable[[str], bool], description: str
    ) -> None:
        self.layers = tuple(layers)
        self.description = description
        self._wanted = wanted
        self._entries: dict[str, _Entry] = {}
        for index, layer in enumerate(self.layers):
            self._apply(index, layer)
        # Layers need not list parent directories: any path with entries below it is one.
        self._implicit_dirs = {
            p.rsplit("/", depth)[0] for p in self._entries for depth in range(1, p.count("/") + 1)
        }

    def _remove_under(self, path: str, keep_self: bool) -> None:
        prefix = path + "/" if path else ""
        doomed = [p for p in self._entries if p.startswith(prefix) or (p == path and not keep_self)]
        for p in doomed:
            del self._entries[p]

    def _apply(self, index: int, layer: Layer) -> None:
        added: dict[str, _Entry] = {}
        whiteouts: list[str] = []
        opaques: list[str] = []
        with _members(layer) as members:
            for member, reader in members:
                path = _member_path(member.name)
                if path is None or not path:
                    continue
                parent, _, base = path.rpartition("/")
                if base == OPAQUE:
                    opaques.append(parent)
                    continue
                if base.startswith(WHITEOUT):
                    whiteouts.append("/".join(filter(None, [parent, base[len(WHITEOUT) :]])))
                    continue
                added[path] = self._entry(index, member, reader, added)
        for path in opaques:
            self._remove_under(path, keep_self=True)
        for path in whiteouts:
            self._remove_under(path, keep_self=False)
        for path, entry in added.items():
            lower = self._entries.get(path)
            if lower is not None and lower.node.kind == "dir" and entry.node.kind != "dir":
                # A file or link replacing a lower directory hides what was below it.
                self._remove_under(path, keep_self=True)
            self._entries[path] = entry

    def _entry(
        self,
        index: int,
        member: tarfile.TarInfo,
        reader: IO[bytes] | None,
        added: dict[str, _Entry],
    ) -> _Entry:
        path = normalize(member.name)
        if member.issym():
            return _Entry(Node("symlink", member.linkname), index)
        if member.isdir():
            return _Entry(Node("dir"), index)
        if member.islnk():
            target = _member_path(member.linkname) or ""
            source = added.get(target)
            data = source.data if source is not None else None
            return _Entry(Node("file"), index, data=data, hardlink=target)
        if member.isreg():
            data = reader.read() if reader is not None and self._wanted(path) else None
            return _Entry(Node("file"), index, data=data)
        return _Entry(Node("other"), index)

    def lstat(self, path: str) -> Node | None:
        entry = self._entries.get(path)
        if entry is not None:
            return entry.node
        return Node("dir") if path in self._implicit_dirs else None

    def read_file(self, path: str) -> bytes:
        entry = self._entries[path]
        if entry.data is None:
            entry.data = self._fetch(entry.layer, entry.hardlink or path)
        return entry.data

    def _fetch(self, index: int, path: str) -> bytes:
        """Re-stream one layer for a file the first pass did not keep."""
        with _members(self.layers[index]) as members:
            for member, reader in members:
                if reader is not None and _member_path(member.name) == path:
                    data = reader.read()
                    break
            else:
                raise InventoryError(f"layer {self.layers[index].digest}: no file /{path}")
            # Let the context manager check the digest over the whole blob.
            for _ in members:
                pass
        return data

    def list_dir(self, path: str) -> list[str]:
        prefix = path + "/" if path else ""
        names = {p[len(prefix) :].split("/", 1)[0] for p in self._entries if p.startswith(prefix)}
        return sorted(names)


__all__ = ["OPAQUE", "WHITEOUT", "Layer", "LayeredTree"]
