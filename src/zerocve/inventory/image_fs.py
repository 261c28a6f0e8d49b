"""The file tree of an image, from its layers, without unpacking it.

Layers (tar, gzip- or zstd-compressed) are applied in order as the OCI image spec says
(``layer.md``: "Whiteouts"): ``.wh.NAME`` deletes ``NAME`` and everything under it from the
layers below, ``.wh..wh..opq`` hides everything below in its directory, and both apply to
lower layers only, whatever their place in the tar. Each layer is streamed once; the tree
keeps every entry's kind and link target (cheap) but the content only of the few files a
predicate wants, re-reading one layer later for a wanted file reached through an unexpected
link. Each blob's digest is checked as it streams: a truncated or altered layer is an error,
not a silently shorter package list. What a layer holds (``LayerIndex``) depends only on its
digest, so ``layer_cache`` keeps it and a second scan of the same image streams nothing.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from zerocve._pool import collect
from zerocve.errors import InventoryError
from zerocve.inventory.tree import MAX_FILE, Node, Tree, normalize, too_large
from zerocve.oci.reader import BlobSource
from zerocve.oci.tar_reader import TarFormatError, TarMember, TarReader
from zerocve.progress import Task

if TYPE_CHECKING:
    from zerocve.inventory.layer_cache import LayerCache

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate
_RAW_READ = 1 << 16


@dataclass
class Entry:
    """One tar member as the tree needs it."""

    node: Node
    data: bytes | None = None  # kept for wanted regular files only
    hardlink: str = ""  # for a hard link: the member it links to, in the same layer


@dataclass
class LayerIndex:
    """What one layer holds, before it is applied: its entries in tar order, and the paths
    its whiteouts delete and its opaque markers hide (from the layers below)."""

    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaques: list[str] = field(default_factory=list)


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


def gunzip(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """``read(n)`` of the gzip stream ``read`` gives, inflated: its members one after another,
    each checked by zlib against its CRC and length (``zlib.error``; ``EOFError`` when the
    stream ends inside one); ``b""`` after the last. Inflated here rather than through
    ``gzip.GzipFile``, which feeds zlib 8 KiB at a time and copies its output twice."""
    inflater = zlib.decompressobj(_GZIP_WBITS)

    def inflated(size: int) -> bytes:
        nonlocal inflater
        while True:
            if inflater.eof:
                rest = inflater.unused_data or read(_RAW_READ)
                if not rest:
                    return b""
                inflater = zlib.decompressobj(_GZIP_WBITS)
                piece = inflater.decompress(rest, size)
            else:
                data = inflater.unconsumed_tail or read(_RAW_READ)
                if not data:
                    raise EOFError("the gzip stream ends inside a member")
                piece = inflater.decompress(data, size)
            if piece:
                return piece

    return inflated


@contextmanager
def _members(layer: BlobSource) -> Iterator[TarReader]:
    """Walk ``layer``'s tar (``oci.tar_reader``: members, and ``read_data`` for their
    content); on exit, check the blob's digest."""
    algorithm, _, expected = layer.digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise InventoryError(f"layer {layer.digest}: unsupported digest algorithm")
    with layer.open() as raw:
        hashing = _HashingReader(raw, algorithm)
        buffered = io.BufferedReader(hashing, 1 << 16)
        magic = buffered.peek(4)[:4]
        read: Callable[[int], bytes]
        if magic.startswith(_GZIP):
            read = gunzip(buffered.read)
        elif magic.startswith(_ZSTD):
            read = zstandard.ZstdDecompressor().stream_reader(buffered).read
        else:
            read = buffered.read
        try:
            yield TarReader(read)
            while buffered.read(1 << 20):  # the tar end marker may precede padding
                pass
        except (TarFormatError, OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
            raise InventoryError(f"layer {layer.digest}: unreadable tar: {e}") from e
    if hashing.hash.hexdigest() != expected:
        raise InventoryError(f"layer {layer.digest}: content does not match its digest")


def _member_path(name: str) -> str | None:
    path = normalize(name)
    if any(part == ".." for part in path.split("/")):
        return None  # an entry escaping the root never lands in a real extraction either
    return path


def _kept(member: TarMember, tar: TarReader, where: str) -> bytes:
    """A wanted file's content, refused from its header when over ``MAX_FILE``."""
    if member.size > MAX_FILE:
        raise too_large(where, member.size)
    return tar.read_data()


def _entry(
    member: TarMember,
    tar: TarReader,
    keep: bool,
    earlier: dict[str, Entry],
    where: str,
) -> Entry:
    if member.issym():
        return Entry(Node("symlink", member.linkname))
    if member.isdir():
        return Entry(Node("dir"))
    if member.islnk():
        target = _member_path(member.linkname) or ""
        source = earlier.get(target)
        return Entry(Node("file"), data=source.data if source else None, hardlink=target)
    if member.isreg():
        return Entry(Node("file"), data=_kept(member, tar, where) if keep else None)
    return Entry(Node("other"))


def read_layer(layer: BlobSource, wanted: Callable[[str], bool]) -> LayerIndex:
    """Stream ``layer`` once: every entry's kind and link target, the content of the regular
    files ``wanted`` names, the whiteouts and opaque markers."""
    index = LayerIndex()
    with _members(layer) as tar:
        for member in tar:
            path = _member_path(member.name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base == OPAQUE:
                index.opaques.append(parent)
            elif base.startswith(WHITEOUT):
                index.whiteouts.append("/".join(filter(None, [parent, base[len(WHITEOUT) :]])))
            else:
                where = f"layer {layer.digest}: /{path}"
                index.entries[path] = _entry(member, tar, wanted(path), index.entries, where)
    return index


class LayeredTree(Tree):
    """The merged tree of ``layers``, bottom first. ``wanted(path)`` says which regular
    files' contents to keep while streaming (by their path in the layer); ``cache`` keeps
    each layer's index by digest, so an image seen before is not streamed again. Layers not
    in the cache are read on ``workers`` threads (inflating and hashing release the GIL)
    and applied in order; the error raised is that of the lowest failing layer."""

    def __init__(
        self,
        layers: Sequence[BlobSource],
        wanted: Callable[[str], bool],
        description: str,
        cache: LayerCache | None = None,
        progress: Task | None = None,
        workers: int = 1,
    ) -> None:
        self.layers = tuple(layers)
        self.description = description
        self._entries: dict[str, tuple[Entry, int]] = {}
        # Parent → child names, for every path (listed or implied): whiteouts and listings
        # touch one subtree instead of scanning every path of the image.
        self._children: dict[str, set[str]] = {}
        kept = [cache.load(layer.digest) if cache is not None else None
                for layer in self.layers]
        missing = [layer for layer, index in zip(self.layers, kept, strict=True) if index is None]
        fresh = iter(self._read(missing, wanted, workers))
        for position, layer in enumerate(self.layers):
            index = kept[position]
            if index is None:
                index = next(fresh)
                if cache is not None:
                    cache.store(layer.digest, index)
            self._apply(position, index)
            if progress is not None:
                progress.advance()

    @staticmethod
    def _read(layers: list[BlobSource], wanted: Callable[[str], bool],
              workers: int) -> list[LayerIndex]:
        if workers < 2 or len(layers) < 2:
            return [read_layer(layer, wanted) for layer in layers]
        with ThreadPoolExecutor(max_workers=min(workers, len(layers))) as pool:
            return collect([pool.submit(read_layer, layer, wanted) for layer in layers])

    def _insert(self, path: str, value: tuple[Entry, int]) -> None:
        self._entries[path] = value
        child = path
        while child:
            parent, _, name = child.rpartition("/")
            names = self._children.setdefault(parent, set())
            if name in names:
                break  # the parents above are linked already
            names.add(name)
            child = parent

    def _clear(self, path: str) -> None:
        """Delete everything below ``path`` (``path`` itself stays)."""
        names = self._children.get(path)
        if not names:
            return
        for name in names:
            child = f"{path}/{name}" if path else name
            self._clear(child)
            self._children.pop(child, None)
            self._entries.pop(child, None)
        names.clear()

    def _delete(self, path: str) -> None:
        self._clear(path)
        self._children.pop(path, None)
        self._entries.pop(path, None)
        parent, _, name = path.rpartition("/")
        self._children.get(parent, set()).discard(name)

    def _apply(self, position: int, index: LayerIndex) -> None:
        for path in index.opaques:
            self._clear(path)
        for path in index.whiteouts:
            self._delete(path)
        for path, entry in index.entries.items():
            if entry.node.kind != "dir":
                # A file or link replacing a lower directory hides what was below it.
                self._clear(path)
            self._insert(path, (entry, position))

    def lstat(self, path: str) -> Node | None:
        found = self._entries.get(path)
        if found is not None:
            return found[0].node
        # Layers need not list parent directories: a path with entries below it is one.
        return Node("dir") if path in self._children else None

    def read_file(self, path: str) -> bytes:
        entry, position = self._entries[path]
        if entry.data is None:
            entry.data = self._fetch(position, entry.hardlink or path)
        return entry.data

    def _fetch(self, position: int, path: str) -> bytes:
        """Re-stream one layer for a file the first pass did not keep."""
        with _members(self.layers[position]) as tar:
            members = iter(tar)
            for member in members:
                if member.isreg() and _member_path(member.name) == path:
                    data = _kept(member, tar, f"layer {self.layers[position].digest}: /{path}")
                    break
            else:
                raise InventoryError(f"layer {self.layers[position].digest}: no file /{path}")
            # Let the context manager check the digest over the whole blob.
            for _ in members:
                pass
        return data

    def list_dir(self, path: str) -> list[str]:
        return sorted(self._children.get(path, ()))


__all__ = ["OPAQUE", "WHITEOUT", "Entry", "LayerIndex", "LayeredTree", "read_layer"]
