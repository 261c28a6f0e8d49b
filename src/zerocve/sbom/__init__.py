"""Software bills of materials: SPDX 2.3 and CycloneDX 1.6 JSON, from an inventory.

Public: ``render_sbom(inventory, fmt, *, checksums=None) -> str``, ``FORMATS`` and
``lock_checksums(lock, inventory)`` (the ``.deb`` SHA256s an image lock records).
"""

from __future__ import annotations

from typing import Literal, assert_never

from zerocve.bom.common import Checksums, lock_checksums
from zerocve.inventory.model import Inventory
from zerocve.sbom import cyclonedx, spdx

SbomFormat = Literal["spdx-json", "cyclonedx-json"]
FORMATS: tuple[SbomFormat, ...] = ("spdx-json", "cyclonedx-json")


def render_sbom(
    inventory: Inventory,
    fmt: SbomFormat,
    *,
    checksums: Checksums | None = None,
    epoch: int | None = None,
) -> str:
    """The SBOM of ``inventory`` as JSON text. ``checksums`` maps ``name:arch`` to the SHA256
    of the package's ``.deb`` where known (the build's lock has them). The creation time is
    ``epoch`` (a build's date), else ``SOURCE_DATE_EPOCH`` when set, so a rebuild gives the
    same bytes."""
    if fmt == "spdx-json":
        return spdx.render(inventory, checksums=checksums, epoch=epoch)
    if fmt == "cyclonedx-json":
        return cyclonedx.render(inventory, checksums=checksums, epoch=epoch)
    assert_never(fmt)


__all__ = ["FORMATS", "Checksums", "SbomFormat", "lock_checksums", "render_sbom"]
