"""The whole listing of a Packages index, parsed, kept on disk so that whoever needs every
package of the same signed index (the gate's newest sources, the fleet's watch; a resolution
reads by name, ``zerocve.debian.catalog``) parses it once: ``<cache>/indices/<key>``.

An entry is found by a key made of the SHA256 of the index file (the very bytes a verified
Release lists and that were parsed), how it is compressed, the architecture it fills in for
stanzas without one, and a digest of the parser's own source: a different index or a changed
parser gives another key, so an entry can never describe other bytes or another parse.

An entry holds only the fields zerocve uses (``BinaryPackage`` without its origin, which the
reader supplies), a line of NUL-separated text fields per record, between a header with the
count of records and a trailer with the machine's seal (``zerocve.cache_seal``) over its key
and that payload: a checksum would catch damage, but whoever plants an entry in the cache
directory (one listing a .deb of theirs under a genuine index's key) would write it too. It
is written as it is encoded and read, hashed and decoded a window at a time: neither the
payload (20 MB for a full Debian index) nor its text is ever held whole. An entry that does
not match its trailer (truncated, flipped bits, an edit, planted or moved to another key),
whose count is not its records' or that does not decode is deleted and reported as absent:
the caller parses the index again; nothing decoded from it is used. Nothing here executes
what it reads (no pickle, no marshal).

The directory is bounded like the other caches (least recently used first,
``ZEROCVE_INDEX_CACHE_MAX``, default 512 MiB).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve._gc import cycle_collector_paused
from zerocve._lru import evict, touch
from zerocve._source_digest import source_digest
from zerocve.cache_seal import CacheSeal
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.errors import CacheError

_MAGIC = b"zerocve-parsed-index 4\n"
_TRAILER = 66  # "\n", the seal (an HMAC-SHA256) in hex, "\n"
_BATCH = 4096  # records encoded at a time
_READ = 1 << 20  # payload bytes read and decoded at a time
_FIELDS = 17  # BinaryPackage's fields but its origin
DEFAULT_MAX_BYTES = 512 << 20


@functools.cache
def parser_digest() -> str:
    """The digest of the code that turns index bytes into records, and of this format."""
    here = Path(__file__).resolve().parent
    return source_digest(here, [here / "index.py", here / "catalog.py", here / "model.py",
                                here / "index_cache.py"])


def entry_key(index_sha256: str, compression: str, architecture: str) -> str:
    """The key of the parse of the index file with SHA256 ``index_sha256``, compressed as
    ``compression`` (".xz", ".gz", ""), whose stanzas default to ``architecture``."""
    text = f"{index_sha256}\0{compression}\0{architecture}\0{parser_digest()}"
    return hashlib.sha256(text.encode()).hexdigest()


class _Unstorable(Exception):
    """A value holds a NUL or a newline: such an index is parsed each time instead."""


def _entry(packages: tuple[BinaryPackage, ...], digest: hmac.HMAC) -> Iterator[bytes]:
    """The entry's bytes, a batch of records at a time (a full index's payload is 20 MB,
    never held whole): the header, the payload (a line of NUL-separated values per record),
    then its seal (``digest``, fed the payload here)."""
    yield _MAGIC + f"{len(packages)}\n".encode()
    for first in range(0, len(packages), _BATCH):
        batch = packages[first:first + _BATCH]
        text = "".join(
            "\0".join((p.name, p.version, p.architecture, p.source, p.source_version,
                       p.filename, str(p.size), p.sha256, p.depends, p.pre_depends, p.provides,
                       p.conflicts, p.breaks, p.multi_arch, "1" if p.essential else "",
                       p.priority, str(p.installed_size))) + "\n"
            for p in batch
        )
        if text.count("\0") != len(batch) * (_FIELDS - 1) or text.count("\n") != len(batch):
            raise _Unstorable
        piece = text.encode()
        digest.update(piece)
        yield piece
    yield b"\n" + digest.hexdigest().encode() + b"\n"


class _Decoder:
    """Records from the payload's lines, a window of whole lines at a time. The values most
    records repeat (versions, sources, dependency lists, architectures) are stored once in
    memory, as the parser does (``zerocve.debian.index``)."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.records: list[BinaryPackage] = []
        self._shared: dict[str, str] = {}

    def lines(self, window: bytes) -> bool:
        """Decode ``window`` (whole lines); False when a line is not a record."""
        common = self._shared.setdefault
        origin, add = self.origin, self.records.append
        for line in str(window, "utf-8").split("\n")[:-1]:  # ValueError: not UTF-8
            values = line.split("\0")
            if len(values) != _FIELDS:
                return False
            (name, version, arch, source, source_version, filename, size, sha256, depends,
             pre_depends, provides, conflicts, breaks, multi_arch, essential, priority,
             installed_size) = values
            version = common(version, version)
            add(BinaryPackage(
                name, version, common(arch, arch), common(source, source),
                version if source_version == version else common(source_version,
                                                                  source_version),
                filename, int(size), sha256, origin, common(depends, depends),
                common(pre_depends, pre_depends), common(provides, provides),
                common(conflicts, conflicts), common(breaks, breaks),
                common(multi_arch, multi_arch), essential == "1", common(priority, priority),
                int(installed_size),
            ))
        return True


def _read(path: Path, origin: Origin, digest: hmac.HMAC) -> tuple[BinaryPackage, ...] | None:
    """The records of the entry at ``path``, or None when it does not check out. The payload
    is read, hashed and decoded a window at a time (never held whole); nothing decoded is
    returned unless the trailer is the seal (``digest``, fed the payload here) and the
    header's count matches."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        count = f.readline(24) if f.read(len(_MAGIC)) == _MAGIC else b""
        left = size - len(_MAGIC) - len(count) - _TRAILER
        if not count.endswith(b"\n") or not count[:-1].isdigit() or left < 0:
            return None
        decoder, tail = _Decoder(origin), b""
        while left > 0:
            window = f.read(min(_READ, left))
            if not window:
                return None  # the file shrank
            left -= len(window)
            digest.update(window)
            window = tail + window
            cut = window.rfind(b"\n") + 1  # a newline is never inside a UTF-8 sequence
            tail = window[cut:]
            if not decoder.lines(window[:cut]):
                return None
        trailer = f.read()
    if tail or not hmac.compare_digest(trailer, b"\n" + digest.hexdigest().encode() + b"\n"):
        return None
    if len(decoder.records) != int(count):
        return None
    return tuple(decoder.records)


class ParsedIndexCache:
    """Below ``cache_root``, sealed with ``seal``; without a seal, nothing is kept (a parse is
    then shared only while this process holds it, ``zerocve.debian.repo``)."""

    def __init__(self, cache_root: Path, seal: CacheSeal | None,
                 max_bytes: int | None = None) -> None:
        self.root = cache_root / "indices"
        self.seal = seal
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes

    def path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        """Whether an entry is kept under ``key`` (``load`` may still find it damaged)."""
        return self.seal is not None and self.path(key).exists()

    def load(self, key: str, origin: Origin) -> tuple[BinaryPackage, ...] | None:
        """The packages stored under ``key``, given ``origin``; None when absent or damaged
        (a damaged entry is deleted)."""
        if self.seal is None:
            return None
        path = self.path(key)
        packages = None
        try:
            with contextlib.suppress(ValueError), cycle_collector_paused():
                # ValueError: not UTF-8, a size not a number
                packages = _read(path, origin, self.seal.stream(key.encode()))
        except OSError:
            return None
        if packages is None:
            path.unlink(missing_ok=True)
            return None
        touch(path)
        return packages

    def store(self, key: str, origin: Origin, packages: tuple[BinaryPackage, ...]) -> None:
        """Keep ``packages`` (of ``origin``) under ``key`` (atomically; then evict the least
        recently used)."""
        if self.seal is None:
            return
        path = self.path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(path, _entry(packages, self.seal.stream(key.encode())), error=CacheError,
                         what="cannot keep the parsed index")
        except (OSError, CacheError, _Unstorable):
            # Only a speed-up: the parse at hand is complete in memory, and a cache directory
            # that cannot be written is reported, with what to do, by the .deb cache the
            # build writes next (zerocve.debian.cache.cache_error).
            return
        evict(self.root, self.max_bytes, keep=path)


__all__ = ["ParsedIndexCache", "entry_key", "parser_digest"]
