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

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY_NAME = "cache-seal.key"
KEY_BYTES = 32


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


__all__ = ["KEY_NAME", "CacheSeal", "load_seal", "open_record", "seal_record"]
