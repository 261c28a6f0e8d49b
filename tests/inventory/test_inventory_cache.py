"""Inventories kept by manifest digest (zerocve.inventory.inventory_cache): an image read
before answers from its manifest alone; another image, another target name or another zerocve
reads the layers; a damaged, edited or copied entry is never trusted and is rewritten. On OCI
layouts of real tar layers (imagekit)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from imagekit import BOOKWORM_OS_RELEASE, LayoutWriter, status

import zerocve.inventory.inventory_cache as inventory_cache
from zerocve.cache_seal import CacheSeal
from zerocve.errors import ImageError
from zerocve.inventory import open_inventory
from zerocve.inventory.model import Inventory

COPYRIGHT = (b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
             b"Files: *\nCopyright: 2020 Someone\nLicense: Expat\n")


SEAL = CacheSeal(b"\x00" * 32)


def layout(root: Path, package: str = "kept") -> Path:
    writer = LayoutWriter(root)
    writer.top([writer.image([[("usr/lib/os-release", BOOKWORM_OS_RELEASE),
                               ("var/lib/dpkg/status", status((package, "1.0", "all", ""))),
                               (f"usr/share/doc/{package}/copyright", COPYRIGHT)]])])
    return root


def without_layers(root: Path, cache: Path) -> None:
    """Only the manifest can be read now: no layer blob, no layer index."""
    for blob in (root / "blobs" / "sha256").iterdir():
        if blob.read_bytes()[:2] == b"\x1f\x8b":
            blob.unlink()
    shutil.rmtree(cache / "layer-index")


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "inventories").glob("*.json"))


def test_an_image_read_before_answers_from_its_manifest(tmp_path: Path) -> None:
    cache, root = tmp_path / "cache", layout(tmp_path / "image")
    open_inventory(str(root), cache_dir=cache)
    assert entries(cache) == []  # no seal to make an entry with: none is kept
    first = open_inventory(str(root), cache_dir=cache, seal=SEAL)
    assert [p.name for p in first.packages] == ["kept"] and len(entries(cache)) == 1
    without_layers(root, cache)
    assert open_inventory(str(root), cache_dir=cache, seal=SEAL) == first
    # The manifest is still read and checked against its digest.
    manifest = next(b for b in (root / "blobs" / "sha256").iterdir()
                    if b"layers" in b.read_bytes())
    manifest.write_bytes(manifest.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":2'))
    with pytest.raises(ImageError, match="does not match its digest"):
        open_inventory(str(root), cache_dir=cache, seal=SEAL)


def test_another_image_target_or_code_reads_the_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    bare = open_inventory(str(layout(tmp_path / "one")), cache_dir=cache, licenses=False,
                          seal=SEAL)
    assert bare.packages[0].licenses == ()  # a scan's inventory: no licences read
    first = open_inventory(str(tmp_path / "one"), cache_dir=cache, seal=SEAL)
    assert first.packages[0].licenses == ("MIT",)
    other = open_inventory(str(layout(tmp_path / "two", "other")), cache_dir=cache,
                           seal=SEAL)
    assert [p.name for p in other.packages] == ["other"] and other != first
    root = tmp_path / "one"
    without_layers(root, cache)
    with pytest.raises(ImageError, match="is missing"):  # the same image, named otherwise
        open_inventory(f"oci:{root}", cache_dir=cache, seal=SEAL)
    monkeypatch.setattr(inventory_cache, "package_digest", lambda: "another zerocve")
    with pytest.raises(ImageError, match="is missing"):
        open_inventory(str(root), cache_dir=cache, seal=SEAL)


@pytest.mark.parametrize("damage", ["truncated", "edited", "not json", "not an object",
                                    "other image", "planted"])
def test_a_damaged_entry_is_not_trusted_and_is_rewritten(tmp_path: Path, damage: str) -> None:
    cache, root = tmp_path / "cache", layout(tmp_path / "image")
    first: Inventory = open_inventory(str(root), cache_dir=cache, seal=SEAL)
    (entry,) = entries(cache)
    genuine = entry.read_bytes()
    data = json.loads(genuine)
    if damage == "truncated":
        entry.write_bytes(genuine[:-40])
    elif damage == "edited":  # another version, the seal kept
        data["inventory"]["packages"][0]["version"] = "9.9"
        entry.write_text(json.dumps(data))
    elif damage == "not json":
        entry.write_bytes(b"\xff" * len(genuine))
    elif damage == "not an object":
        entry.write_text('["a list", "not a sealed record"]')
    elif damage == "other image":  # a whole entry of another image, under this one's name
        open_inventory(str(layout(tmp_path / "two", "other")), cache_dir=tmp_path / "other",
                       seal=SEAL)
        (forged,) = entries(tmp_path / "other")
        shutil.copyfile(forged, entry)
    else:  # the same inventory with another version, sealed with another machine's key
        body = {**data, "inventory": {**data["inventory"], "packages": [
            {**data["inventory"]["packages"][0], "version": "9.9"}]}}
        del body["seal"]
        body["seal"] = CacheSeal(b"\x01" * 32).seal(json.dumps(body, sort_keys=True).encode())
        entry.write_text(json.dumps(body))
    saved = {blob: blob.read_bytes() for blob in (root / "blobs" / "sha256").iterdir()}
    without_layers(root, cache)
    with pytest.raises(ImageError, match="is missing"):
        open_inventory(str(root), cache_dir=cache, seal=SEAL)
    for blob, content in saved.items():
        blob.write_bytes(content)
    assert open_inventory(str(root), cache_dir=cache, seal=SEAL) == first
    assert entry.read_bytes() == genuine
