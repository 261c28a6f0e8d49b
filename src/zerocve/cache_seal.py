"""Seals on what the caches derive, so that an entry this machine did not write is a miss.

The download cache checks itself: a ``.deb`` or index is found by the SHA256 a signed Release
gives, and its bytes are hashed again when read. What zerocve derives from them cannot be
checked that way (a built image, a parsed index, the verdict that a lock verified): a
checksum beside the entry only catches damage, since whoever writes the cache directory can
write the matching checksum too. Cache directories do get written by others: CI systems
restore ``~/.cache`` from a store that other branches, or forks' pull requests, filled.

So each derived entry carries an HMAC-SHA256 under a key kept outside the cache, in the state
directory (``<state dir>/cache-seal.key``, 32 random bytes, mode 0600, made on first use).
An entry whose seal does not verify is treated as absent and rebuilt from verified inputs.
When the key cannot be read or made (a read-only state directory), nothing derived is read
from or written to the caches: slower, never trusting.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY_NAME = "cache-seal.key"
KEY_BYTES = 32
_RECORD_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CacheSeal:
    key: bytes = field(repr=False)

    def seal(self, *parts: bytes) -> str:
        """The HMAC of ``parts`` (length-prefixed, so no two lists of parts collide)."""
        return self.stream(*parts).hexdigest()

    def verifies(self, seal: str, *parts: bytes) -> bool:
        return hmac.compare_digest(seal.encode(), self.seal(*parts).encode())

    def stream(self, *parts: bytes) -> hmac.HMAC:
        """An HMAC over ``parts`` to be fed the rest (a payload too large to hold whole)."""
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(8, "big") + part)
        return mac


def seal_record(seal: CacheSeal, body: Mapping[str, Any]) -> bytes:
    """``body`` (with its ``format`` and ``key``) as a JSON document sealed by ``seal``."""
    return json.dumps({**body, "seal": seal.seal(_canonical(body))}, sort_keys=True).encode()


def open_record(seal: CacheSeal, data: bytes, *, format: str, key: str) -> dict[str, Any] | None:
    """The fields of the document ``seal_record`` wrote for ``key`` in ``format``; None when
    ``data`` is not one, was not sealed here, or was written for another key or format."""
    try:
        record = json.loads(data)
    except ValueError:  # not JSON, not UTF-8
        return None
    if not isinstance(record, dict) or not isinstance(record.get("seal"), str):
        return None
    body = {name: value for name, value in record.items() if name != "seal"}
    if not seal.verifies(record["seal"], _canonical(body)):
        return None
    return body if (body.get("format"), body.get("key")) == (format, key) else None


class SealedRecords:
    """One directory of sealed records below the cache (``seal_record`` documents of
    ``format``), a file per key (a SHA256 in hex), at most ``max_bytes`` in all (least
    recently used first). Both ways best effort: a record that is absent, damaged, planted or
    written for another key or format is a miss, and one that cannot be written only costs
    the next run the work it would have saved. Records are not fsynced: one a crash tore fails
    its seal, a miss, not a lie."""

    def __init__(self, directory: Path, seal: CacheSeal, format: str, max_bytes: int) -> None:
        self.directory = directory
        self.seal = seal
        self.format = format
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        if not _RECORD_KEY.fullmatch(key):
            raise ValueError(f"bad record key {key!r}")
        return self.directory / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The fields ``store`` kept for ``key``; None on a miss."""
        try:
            data = self.path(key).read_bytes()
        except OSError:
            return None
        return open_record(self.seal, data, format=self.format, key=key)

    def store(self, key: str, fields: Mapping[str, Any], *, largest: int | None = None) -> None:
        """Keep ``fields`` for ``key``, unless sealed they are over ``largest`` bytes."""
        # Imported here: the front door (zerocve.cli._front) imports this module to read.
        from zerocve._atomic import write_atomic
        from zerocve._lru import evict
        from zerocve.errors import CacheError

        data = seal_record(self.seal, {**fields, "format": self.format, "key": key})
        if largest is not None and len(data) > largest:
            return
        path = self.path(key)
        with contextlib.suppress(OSError, CacheError):
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data, error=CacheError, sync=False)
            evict(self.directory, self.max_bytes, keep=path)

    def touch(self, key: str) -> None:
        """Mark the record of ``key`` as just used."""
        with contextlib.suppress(OSError):
            os.utime(self.path(key))


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True).encode()


def load_seal(state_dir: Path) -> CacheSeal | None:
    """The seal of this state directory, its key made now if there is none; None when it can
    be neither read nor made, or is not a key (then the caches keep nothing derived)."""
    path = state_dir / KEY_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        temp = state_dir / f".{KEY_NAME}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            # link, not rename: two processes making a key at once agree on the first one.
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
        return _read(path)
    except OSError:
        return None


def _read(path: Path) -> CacheSeal | None:
    key = path.read_bytes()
    return CacheSeal(key) if len(key) == KEY_BYTES else None


__all__ = ["KEY_NAME", "CacheSeal", "SealedRecords", "load_seal", "open_record", "seal_record"]
