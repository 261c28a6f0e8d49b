"""What SPDX and CycloneDX documents share: creation time, source purls, checksums and the name
of the thing described."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Inventory
from zerocve.inventory.purls import deb_purl
from zerocve.inventory.targets import without_prefix

if TYPE_CHECKING:
    from zerocve.lock import Lock

Checksums = Mapping[str, str]
"""SHA256 (hex) of each package's ``.deb``, keyed ``name:arch`` (``BinaryPackage.key``)."""

TOOL = "zerocve"


def creation_time(epoch: int | None = None) -> str:
    """RFC 3339 UTC, second precision: ``epoch`` when given (a build's date, or
    ``Settings.source_date_epoch``), else now."""
    if epoch is not None:
        moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    else:
        moment = dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_name(inventory: Inventory) -> str:
    """What the document describes: the image name, else the target's last path part."""
    if inventory.image_name:
        return inventory.image_name
    target = without_prefix(inventory.target)
    return PurePosixPath(target.rstrip("/")).name or target or "rootfs"


def source_purl(package: InstalledPackage, inventory: Inventory) -> str:
    """``pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=source&distro=debian-12``: the purl
    spec's spelling of a Debian source package."""
    return deb_purl(inventory, package.source, package.source_version, "source")


def lock_checksums(lock: Lock, inventory: Inventory) -> dict[str, str]:
    """``Checksums`` from an image lock, for the packages installed at the locked version
    (a lock that has moved on since the image was built must not lend its hashes)."""
    installed = {(p.name, p.architecture): p.version for p in inventory.packages}
    return {
        f"{p.name}:{p.architecture}": p.sha256
        for arch in lock.archs.values()
        for p in arch.packages
        if installed.get((p.name, p.architecture)) == p.version
    }


def checksum(package: InstalledPackage, checksums: Checksums | None) -> str | None:
    """The package's .deb SHA256 from ``checksums``, lowercase hex; ``ValueError`` on junk."""
    if not checksums:
        return None
    value = checksums.get(f"{package.name}:{package.architecture}")
    if value is None:
        return None
    value = value.removeprefix("sha256:").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"checksum of {package.name}:{package.architecture}: not a SHA256")
    return value


__all__ = [
    "TOOL",
    "Checksums",
    "checksum",
    "creation_time",
    "lock_checksums",
    "source_purl",
    "subject_name",
]
