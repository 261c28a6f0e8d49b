"""A build cache, so that rebuilding what was built before costs little.

Two kinds of entries, both below ``<cache dir>/build``:

* compressed layers, found by their ``diff_id`` (the digest of the uncompressed tar): a
  layer whose bytes did not change is not compressed again, which is most of a build's time;
* whole platform images, found by a key over every input of the build (the code of the
  builder itself, the spec, the architecture, the date, each package record and the SHA256 of
  its ``.deb``): a no-change rebuild reads the result back instead of unpacking anything.

Blobs live in a content-addressed ``BlobCache`` (complete files renamed into place) and
are verified against their digest when read, so a damaged entry is a cache miss, never a
wrong image. References (key -> digest) are small files replaced atomically, sealed with the
machine's cache seal (``zerocve.cache_seal``): a reference this machine did not write, which
could name any blob planted beside it, is a miss too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from zerocve._atomic import write_atomic
from zerocve.cache_seal import CacheSeal
from zerocve.debian.cache import BlobCache, cache_error
from zerocve.errors import CacheError

_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


# Compressed layers of recent builds; the least recently used go first past this
# (ZEROCVE_BUILD_CACHE_MAX changes it).
DEFAULT_MAX_BYTES = 2 << 30


class BuildCache:
    def __init__(self, root: Path, seal: CacheSeal, max_bytes: int | None = None) -> None:
        self.root = root
        self.seal = seal
        self.blobs = BlobCache(self.root, DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
        self.refs = self.root / "refs"
        try:
            for kind in ("layers", "images"):
                (self.refs / kind).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cache_error(self.root, e) from e

    # -- blobs ---------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.blobs.get(digest) is None:
            self.blobs.put_stream(digest, len(data), [data], what="build cache blob")
        return "sha256:" + digest

    def get_blob(self, digest: str) -> bytes | None:
        path = self.blobs.verify(_hex(digest))
        return path.read_bytes() if path is not None else None

    # -- references ----------------------------------------------------------------------

    def _ref(self, kind: str, key: str) -> Path:
        key = _hex(key)
        if not _KEY_RE.match(key):
            raise ValueError(f"bad cache key {key!r}")
        return self.refs / kind / key

    def _write_ref(self, kind: str, key: str, digest: str) -> None:
        seal = self.seal.seal(kind.encode(), _hex(key).encode(), digest.encode())
        write_atomic(self._ref(kind, key), f"{digest}\n{seal}\n".encode(), error=CacheError,
                     what="cannot write to the build cache")

    def _read_ref(self, kind: str, key: str) -> str | None:
        """The digest a reference names; a missing, damaged or unsealed reference is a miss."""
        try:
            digest, seal = self._ref(kind, key).read_text().split()
        except (FileNotFoundError, UnicodeDecodeError, ValueError):
            return None
        parts = (kind.encode(), _hex(key).encode(), digest.encode())
        if not _KEY_RE.match(_hex(digest)) or not self.seal.verifies(seal, *parts):
            return None
        return digest

    # -- layers --------------------------------------------------------------------------

    def compressed_layer(self, diff_id: str) -> bytes | None:
        digest = self._read_ref("layers", diff_id)
        return self.get_blob(digest) if digest else None

    def store_layer(self, diff_id: str, compressed: bytes) -> None:
        self._write_ref("layers", diff_id, self.put_blob(compressed))

    # -- whole images --------------------------------------------------------------------

    def image_record(self, key: str) -> dict[str, Any] | None:
        digest = self._read_ref("images", key)
        data = self.get_blob(digest) if digest else None
        if data is None:
            return None
        record: dict[str, Any] = json.loads(data)
        return record

    def store_image_record(self, key: str, record: dict[str, Any]) -> None:
        data = json.dumps(record, sort_keys=True).encode()
        self._write_ref("images", key, self.put_blob(data))
