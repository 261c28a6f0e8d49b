"""The SBOM a built image carries inside, at ``EMBEDDED_SBOM``.

The path follows apko's convention for minimal images (``/var/lib/db/sbom/``, where Wolfi
images keep SPDX documents), in SPDX JSON as apko does. It is written while the image is
assembled, so it cannot name the image's own digest (that digest covers this file): the
root package is the image by name; the SBOM written beside the layout, from the finished
image, carries the digest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from zerocve.debian.model import InstalledPackage
from zerocve.inventory import dpkg
from zerocve.inventory.licenses import copyright_licenses
from zerocve.inventory.model import Inventory
from zerocve.sbom import Checksums, render_sbom

EMBEDDED_SBOM = "var/lib/db/sbom/image.spdx.json"


def embedded_sbom(
    packages: Sequence[InstalledPackage],
    *,
    image_name: str,
    os_release: str | None,
    debian_version: str | None = None,
    copyrights: Mapping[str, str] | None = None,
    checksums: Checksums | None = None,
    epoch: int | None = None,
) -> bytes:
    """SPDX 2.3 JSON for an image being built from ``packages``.

    ``os_release``/``debian_version`` are the texts the image will hold (they give the purls'
    ``distro=``); ``copyrights`` maps a package name to its ``usr/share/doc/<name>/copyright``
    text (licenses come from it); ``checksums`` maps ``name:arch`` to the ``.deb`` SHA256.
    The creation time is ``epoch`` (the build's date), so a rebuild writes the same bytes."""
    copyrights = copyrights or {}
    with_licenses = tuple(
        dataclasses.replace(p, licenses=copyright_licenses(copyrights[p.name]))
        if p.name in copyrights and not p.licenses
        else p
        for p in packages
    )
    inventory = Inventory(
        target=image_name,
        distro=dpkg.distro(os_release, debian_version),
        packages=dpkg.deduplicate(with_licenses),
        image_name=image_name,
    )
    return render_sbom(inventory, "spdx-json", checksums=checksums, epoch=epoch).encode()


__all__ = ["EMBEDDED_SBOM", "embedded_sbom"]
