"""Inventories kept by image digest, so that reading back an image seen before reads nothing
but its manifest.

An image's manifest digest names its config and layers, hence every byte the inventory is
read from; the inventory of one image read by one zerocve holds forever. The gate of every
no-change rebuild read the image it had just written (and the SBOM beside it read it once
more): even from the layer-index cache, decoding every layer's index cost about half a second
a time. An entry is kept at ``<cache>/inventories/<key>.json``, ``key`` the SHA256 of the
manifest digest, the target as named (an inventory's warnings and ``target`` name it), the
image name, whether licences were read (a scan reads none) and the digest of every zerocve
module (``package_digest``): a changed reader or detector never finds an entry another one
made.

The manifest itself is always read and checked against its digest, as before: only what the
layers would give is taken from here. An entry holds its key again and is sealed with the
machine's cache key (``zerocve.cache_seal``: whoever can write the cache directory cannot
seal an entry); one that is truncated, edited, of another shape, copied under another key's
name or planted is a miss, read from the layers again and rewritten. Without a seal nothing is
kept. Nothing here executes what it reads. Bounded like the layer indexes (least recently
used first).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

from zerocve._source_digest import package_digest
from zerocve.cache_seal import CacheSeal, SealedRecords
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Distro, Inventory

_FORMAT = "zerocve-inventory 1"
_Flat = TypeVar("_Flat", Distro, InstalledPackage)
DEFAULT_MAX_BYTES = 64 << 20


class InventoryCache:
    """Below ``root`` (the zerocve cache directory); without one, nothing is kept."""

    def __init__(
        self, root: Path | None, seal: CacheSeal | None, max_bytes: int | None = None, *,
        licenses: bool = True,
    ) -> None:
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        # Without a seal, nothing derived is read or written (``zerocve.cache_seal``).
        self.records = (SealedRecords(root / "inventories", seal, _FORMAT, self.max_bytes)
                        if root is not None and seal else None)
        self.licenses = licenses  # whether the inventories hold licences (a scan's do not)

    def key(self, image_digest: str, target: str, image_name: str | None) -> str:
        text = (f"{_FORMAT}\0{package_digest()}\0{image_digest}\0{target}\0{image_name or ''}"
                f"\0{self.licenses}")
        return hashlib.sha256(text.encode()).hexdigest()

    def load(self, image_digest: str, target: str, image_name: str | None) -> Inventory | None:
        """The inventory kept for this image as ``target`` names it; None when there is none
        or it is not whole."""
        if self.records is None:
            return None
        key = self.key(image_digest, target, image_name)
        try:
            body = self.records.load(key)
            if body is None:
                return None  # absent, damaged, planted or another's: read the layers again
            inventory = _decode(body["inventory"])
        except (KeyError, TypeError):
            return None  # of another shape: read the layers again
        if (inventory.target, inventory.image_digest, inventory.image_name) != (
                target, image_digest, image_name):
            return None
        self.records.touch(key)
        return inventory

    def store(self, inventory: Inventory) -> None:
        """Keep ``inventory`` (of an image with a digest). Best effort: a cache that cannot be
        written only costs the next read its speed."""
        if self.records is None or inventory.image_digest is None:
            return
        key = self.key(inventory.image_digest, inventory.target, inventory.image_name)
        self.records.store(key, {"inventory": asdict(inventory)}, largest=self.max_bytes // 4)


def _flat(cls: type[_Flat], data: Any) -> _Flat:
    """A record whose fields are all text or tuples of text, from exactly those fields."""
    if not isinstance(data, dict) or set(data) != {f.name for f in fields(cls)}:
        raise TypeError(f"not a {cls.__name__}")
    values: dict[str, Any] = {
        name: tuple(_text(item) for item in value) if isinstance(value, list) else _text(value)
        for name, value in data.items()
    }
    return cls(**values)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _decode(data: Any) -> Inventory:
    if not isinstance(data, dict) or set(data) != {f.name for f in fields(Inventory)}:
        raise TypeError("not an inventory")
    return Inventory(
        target=_text(data["target"]),
        distro=None if data["distro"] is None else _flat(Distro, data["distro"]),
        packages=tuple(_flat(InstalledPackage, p) for p in data["packages"]),
        image_digest=None if data["image_digest"] is None else _text(data["image_digest"]),
        image_name=None if data["image_name"] is None else _text(data["image_name"]),
        warnings=tuple(_text(w) for w in data["warnings"]),
    )


__all__ = ["DEFAULT_MAX_BYTES", "InventoryCache"]
