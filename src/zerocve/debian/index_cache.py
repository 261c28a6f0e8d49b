"""Parsed Packages indices, kept on disk so that a second resolution against the same signed
Release parses (and fetches) nothing: ``<cache>/indices/<key>``.

An entry is found by a key made of the SHA256 of the index file (the very bytes a verified
Release lists and that were parsed), how it is compressed, the architecture it fills in for
stanzas without one, and a digest of the parser's own source: a different index or a changed
parser gives another key, so an entry can never describe other bytes or another parse.

An entry holds only the fields zerocve uses (``BinaryPackage`` without its origin, which the
reader supplies), as text fields joined by NUL, between a header with the count of records
and a trailer with the SHA256 of that payload (written as it is encoded, never held whole).
An entry that does not match its trailer (truncated, flipped bits, an edit), whose count is
not its records' or that does not decode is deleted and reported as absent: the caller parses
the index again. Nothing here executes what it reads (no pickle, no marshal).

The directory is bounded like the other caches (least recently used first,
``ZEROCVE_INDEX_CACHE_MAX``, default 512 MiB).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve._gc import cycle_collector_paused
from zerocve._lru import evict, touch
from zerocve._source_digest import source_digest
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.errors import CacheError

_MAGIC = b"zerocve-parsed-index 2\n"
_TRAILER = 66  # "\n", the payload's SHA256 in hex, "\n"
_BATCH = 4096  # records encoded at a time
_FIELDS = 17  # BinaryPackage's fields but its origin
DEFAULT_MAX_BYTES = 512 << 20


@functools.cache
def parser_digest() -> str:
    """The digest of the code that turns index bytes into records, and of this format."""
    here = Path(__file__).resolve().parent
    return source_digest(here, [here / "index.py", here / "model.py", here / "index_cache.py"])


def entry_key(index_sha256: str, compression: str, architecture: str) -> str:
    """The key of the parse of the index file with SHA256 ``index_sha256``, compressed as
    ``compression`` (".xz", ".gz", ""), whose stanzas default to ``architecture``."""
    text = f"{index_sha256}\0{compression}\0{architecture}\0{parser_digest()}"
    return hashlib.sha256(text.encode()).hexdigest()


class _Unstorable(Exception):
    """A value holds a NUL: such an index is parsed each time instead."""


def _entry(packages: tuple[BinaryPackage, ...]) -> Iterator[bytes]:
    """The entry's bytes, a batch of records at a time (a full index's payload is 20 MB,
    never held whole): the header, the payload, then its SHA256."""
    digest = hashlib.sha256()
    yield _MAGIC + f"{len(packages)}\n".encode()
    for first in range(0, len(packages), _BATCH):
        values: list[str] = []
        for p in packages[first:first + _BATCH]:
            values += (p.name, p.version, p.architecture, p.source, p.source_version,
                       p.filename, str(p.size), p.sha256, p.depends, p.pre_depends, p.provides,
                       p.conflicts, p.breaks, p.multi_arch, "1" if p.essential else "",
                       p.priority, str(p.installed_size))
        text = "\0".join(values)
        if text.count("\0") != len(values) - 1:
            raise _Unstorable
        piece = (b"\0" if first else b"") + text.encode()
        digest.update(piece)
        yield piece
    yield b"\n" + digest.hexdigest().encode() + b"\n"


def _decode(payload: memoryview, count: int, origin: Origin
            ) -> tuple[BinaryPackage, ...] | None:
    if count == 0:
        return () if not payload else None
    parts = str(payload, "utf-8").split("\0")
    if len(parts) != count * _FIELDS:
        return None
    # The few values most stanzas share are stored once in memory, not 64,000 times.
    shared: dict[str, str] = {}
    common = shared.setdefault
    records = []
    fields = iter(parts)
    for (name, version, arch, source, source_version, filename, size, sha256, depends,
         pre_depends, provides, conflicts, breaks, multi_arch, essential, priority,
         installed_size) in zip(*[fields] * _FIELDS, strict=True):
        records.append(BinaryPackage(
            name, version, common(arch, arch), source, source_version, filename, int(size),
            sha256, origin, depends, pre_depends, provides, conflicts, breaks,
            common(multi_arch, multi_arch), essential == "1", common(priority, priority),
            int(installed_size),
        ))
    return tuple(records)


class _Recent:
    """The last few indices loaded or stored in this process, by (key, origin): a second
    client (a build verifying the lock the first one resolved) gets the same tuple, so the
    resolver's universe built from it is found again (``zerocve.debian.resolve``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, Origin], tuple[BinaryPackage, ...]] = OrderedDict()
        self._mutex = threading.Lock()

    def get(self, key: str, origin: Origin) -> tuple[BinaryPackage, ...] | None:
        with self._mutex:
            found = self._kept.get((key, origin))
            if found is not None:
                self._kept.move_to_end((key, origin))
            return found

    def put(self, key: str, origin: Origin, packages: tuple[BinaryPackage, ...]) -> None:
        with self._mutex:
            self._kept[(key, origin)] = packages
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


_RECENT = _Recent(size=8)


class ParsedIndexCache:
    def __init__(self, cache_root: Path, max_bytes: int | None = None) -> None:
        self.root = cache_root / "indices"
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str, origin: Origin) -> tuple[BinaryPackage, ...] | None:
        """The packages stored under ``key``, given ``origin``; None when absent or damaged
        (a damaged entry is deleted)."""
        recent = _RECENT.get(key, origin)
        if recent is not None:
            return recent
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        packages = None
        end = data.find(b"\n", len(_MAGIC))
        count = data[len(_MAGIC):end]
        trailer = data[-_TRAILER:]
        if (data.startswith(_MAGIC) and end > 0 and count.isdigit()
                and len(data) >= end + 1 + _TRAILER and trailer[:1] == trailer[-1:] == b"\n"):
            payload = memoryview(data)[end + 1:len(data) - _TRAILER]  # never copied
            if hashlib.sha256(payload).hexdigest().encode() == trailer[1:-1]:
                with contextlib.suppress(ValueError), cycle_collector_paused():
                    packages = _decode(payload, int(count), origin)  # ValueError: not UTF-8…
        if packages is None:
            path.unlink(missing_ok=True)
            return None
        touch(path)
        _RECENT.put(key, origin, packages)
        return packages

    def store(self, key: str, origin: Origin, packages: tuple[BinaryPackage, ...]) -> None:
        """Keep ``packages`` (of ``origin``) under ``key`` (atomically; then evict the least
        recently used)."""
        _RECENT.put(key, origin, packages)
        path = self.path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(path, _entry(packages), error=CacheError,
                         what="cannot keep the parsed index")
        except (OSError, CacheError, _Unstorable):
            # Only a speed-up: the parse at hand is complete in memory, and a cache directory
            # that cannot be written is reported, with what to do, by the .deb cache the
            # build writes next (zerocve.debian.cache.cache_error).
            return
        evict(self.root, self.max_bytes, keep=path)


__all__ = ["ParsedIndexCache", "entry_key", "parser_digest"]
