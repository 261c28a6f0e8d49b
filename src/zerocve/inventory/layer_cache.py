"""Layer indexes kept by layer digest, so an image is streamed once, not on every scan.

A layer's digest names its bytes, so what was read from it once holds forever: the cache
stores each ``LayerIndex`` (entry kinds, link targets, the wanted files' contents,
whiteouts) as JSON under ``<cache>/layer-index/<key>/<algorithm>-<hex>.json``. ``key``
names what the index was read for (which files were wanted), so a scanner that starts
wanting more files uses a new key instead of trusting indexes that lack them. Entries are
written atomically (``zerocve._atomic``); an unreadable entry is a miss, re-read from the
layer and rewritten. The index is cached only after the layer's digest was verified, and
sealed (``zerocve.cache_seal``): an index planted in the cache directory, which could hide a
package from the scanner, is a miss too.

Bounded: past ``max_bytes`` (``DEFAULT_MAX_BYTES``, or ``ZEROCVE_LAYER_INDEX_CACHE_MAX``)
the least recently used indexes are deleted, and an index over a quarter of the bound is
not kept at all (its layer is streamed again next time), so no one layer fills the cache.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path
from typing import Any

from zerocve._atomic import write_atomic
from zerocve._lru import evict, touch
from zerocve.cache_seal import CacheSeal
from zerocve.errors import InventoryError
from zerocve.inventory.image_fs import Entry, LayerIndex
from zerocve.inventory.tree import Node

_FORMAT = 1
DEFAULT_MAX_BYTES = 512 << 20
_DIGEST = re.compile(r"(sha256|sha512):([0-9a-f]{64,128})")


class LayerCache:
    """Below ``root`` (the zerocve cache directory), sealed with ``seal``; without both,
    nothing is kept."""

    def __init__(self, key: str, root: Path | None, seal: CacheSeal | None,
                 max_bytes: int | None = None) -> None:
        self.key = key
        self.directory = root / "layer-index" / key if root is not None and seal else None
        self.seal = seal
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes

    def _sealed(self, digest: str, data: bytes) -> str:
        assert self.seal is not None  # no directory without one
        return self.seal.seal(self.key.encode(), digest.encode(), data)

    def _path(self, digest: str) -> Path | None:
        match = _DIGEST.fullmatch(digest)
        if match is None or self.directory is None:
            return None
        return self.directory / f"{match[1]}-{match[2]}.json"

    def load(self, digest: str) -> LayerIndex | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            seal, _, data = path.read_bytes().partition(b"\n")
            if not self.seal or not self.seal.verifies(seal.decode(), self.key.encode(),
                                                       digest.encode(), data):
                return None  # not written here: read the layer again
            index = _decode(json.loads(data))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: read the layer again
        touch(path)
        return index

    def store(self, digest: str, index: LayerIndex) -> None:
        """Best effort: a cache that cannot be written (read-only home, full disk) only
        costs the next scan its speed."""
        path = self._path(digest)
        if path is None:
            return
        data = json.dumps(_encode(index), separators=(",", ":")).encode()
        if len(data) > self.max_bytes // 4:
            return
        with contextlib.suppress(OSError, InventoryError):
            path.parent.mkdir(parents=True, exist_ok=True)
            # Not fsynced: an entry a crash tore fails its seal, and the layer is read again.
            write_atomic(path, [self._sealed(digest, data).encode(), b"\n", data],
                         error=InventoryError, sync=False)
            evict(path.parent, self.max_bytes, keep=path)


def _encode(index: LayerIndex) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "entries": [
            [
                path,
                entry.node.kind,
                entry.node.target,
                entry.hardlink,
                None if entry.data is None else base64.b64encode(entry.data).decode(),
            ]
            for path, entry in index.entries.items()
        ],
        "whiteouts": index.whiteouts,
        "opaques": index.opaques,
    }


def _decode(document: dict[str, Any]) -> LayerIndex:
    if document["format"] != _FORMAT:
        raise ValueError("other format")
    entries = {
        str(path): Entry(
            Node(str(kind), str(target)),
            data=None if data is None else base64.b64decode(data, validate=True),
            hardlink=str(hardlink),
        )
        for path, kind, target, hardlink, data in document["entries"]
    }
    return LayerIndex(
        entries, [str(p) for p in document["whiteouts"]], [str(p) for p in document["opaques"]]
    )


__all__ = ["LayerCache"]
