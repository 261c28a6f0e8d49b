"""Package URLs for what a scan reports on: the image (``pkg:oci``) and its packages
(``pkg:deb``). VEX matching and every output format name products the same way."""

from __future__ import annotations

import functools
import re
from pathlib import PurePosixPath

from packageurl import PackageURL

from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Distro, Inventory
from zerocve.inventory.targets import without_prefix

_TAG = re.compile(r":[^/:]+$")


def deb_purl(inventory: Inventory, name: str, version: str, arch: str) -> str:
    """``pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12``: the one place a Debian
    package URL is spelled, for binary packages and (``arch="source"``) source packages."""
    return _deb_purl(inventory.distro, name, version, arch)


# A report names each package once per finding: spelling a package URL is slow enough
# (packageurl quotes every part) to show in a scan of a few hundred packages.
@functools.lru_cache(maxsize=16384)
def _deb_purl(distro: Distro | None, name: str, version: str, arch: str) -> str:
    qualifiers = {"arch": arch}
    if distro is not None:
        qualifiers["distro"] = distro.purl_qualifier
    return PackageURL(
        type="deb",
        namespace=distro.id if distro is not None else "debian",
        name=name,
        version=version,
        qualifiers=qualifiers,
    ).to_string()


def package_purl(package: InstalledPackage, inventory: Inventory) -> str:
    """``pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12``."""
    return deb_purl(inventory, package.name, package.version, package.architecture)


def image_repository(image_name: str) -> str:
    """``127.0.0.1:5000/team/python:3.11@sha256:…`` → ``127.0.0.1:5000/team/python``."""
    repository = image_name.split("@", 1)[0]
    return _TAG.sub("", repository)


def _name_from_target(target: str) -> str:
    """``oci:out/python:3.11`` → ``python``: a layout or an archive has no repository name,
    so its file name stands in (the digest is what identifies the image)."""
    base = PurePosixPath(without_prefix(target).rstrip("/")).name
    return base.split(":", 1)[0] or "image"


def image_purl(inventory: Inventory) -> str | None:
    """``pkg:oci/python@sha256:…?repository_url=127.0.0.1:5000/team/python``; ``None`` for a
    target that is not an image (a root filesystem with no name and no digest)."""
    if not inventory.is_image:
        return None
    qualifiers: dict[str, str] = {}
    if inventory.image_name is not None:
        repository = image_repository(inventory.image_name)
        name = repository.rsplit("/", 1)[-1]
        qualifiers["repository_url"] = repository
    else:
        name = _name_from_target(inventory.target)
    return PackageURL(
        type="oci", name=name.lower(), version=inventory.image_digest, qualifiers=qualifiers
    ).to_string()
