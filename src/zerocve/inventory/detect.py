"""Packages and release of any Debian-based tree: the files every scanner reads."""

from __future__ import annotations

import dataclasses
import re

from zerocve.debian.model import InstalledPackage
from zerocve.errors import InventoryError
from zerocve.inventory import dpkg
from zerocve.inventory.licenses import copyright_licenses
from zerocve.inventory.model import Inventory
from zerocve.inventory.status import parse_status
from zerocve.inventory.tree import Tree

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")  # os-release(5) lookup order
DEBIAN_VERSION = "etc/debian_version"
_COPYRIGHT = re.compile(r"usr/share/doc/[^/]+/copyright")
# Names what ``wanted`` keeps, for cached layer indexes: change it whenever ``wanted`` does.
INDEX_KEY = "dpkg-v1"


def wanted(path: str) -> bool:
    """The files whose content detection reads, by their path in the image: a layer reader
    keeps these and skips the rest."""
    return (
        path == STATUS
        or path.startswith(STATUS_D + "/")
        or path in OS_RELEASE
        or path == DEBIAN_VERSION
        or _COPYRIGHT.fullmatch(path) is not None
    )


def _packages(tree: Tree, warnings: list[str]) -> list[InstalledPackage]:
    found: list[InstalledPackage] = []
    sources: list[tuple[str, str, bool]] = []
    status = tree.read_text(STATUS)
    if status is not None:
        sources.append((STATUS, status, True))
    for name in tree.listdir(STATUS_D) or []:
        if name.endswith(".md5sums") or name.startswith("."):
            continue
        text = tree.read_text(f"{STATUS_D}/{name}")
        if text is not None:
            sources.append((f"{STATUS_D}/{name}", text, False))
    if not sources:
        raise InventoryError(f"{tree.description}: no dpkg database ({STATUS} or {STATUS_D}) found")
    for path, text, require_status in sources:
        location = f"/{path}"  # as the builder and dpkg name it: a path in the image
        found.extend(parse_status(text, location=location, require_status=require_status))
    return found


def _with_licenses(tree: Tree, package: InstalledPackage) -> InstalledPackage:
    text = tree.read_text(f"usr/share/doc/{package.name}/copyright")
    if text is None:
        return package
    return dataclasses.replace(package, licenses=copyright_licenses(text))


def detect(
    tree: Tree,
    *,
    target: str,
    image_digest: str | None = None,
    image_name: str | None = None,
    licenses: bool = True,
) -> Inventory:
    """The inventory of ``tree``; ``InventoryError`` when it holds no dpkg database. Each
    package's licences come from its copyright file, unless ``licenses`` is False: only an
    SBOM shows them, and a scan would spend more on those reads than on its matching."""
    warnings: list[str] = []
    packages = dpkg.deduplicate(_packages(tree, warnings))
    os_release = next((t for p in OS_RELEASE if (t := tree.read_text(p)) is not None), None)
    release = dpkg.distro(os_release, tree.read_text(DEBIAN_VERSION))
    if release is None:
        warnings.append(f"{tree.description}: no etc/os-release or etc/debian_version")
    return Inventory(
        target=target,
        distro=release,
        packages=tuple(_with_licenses(tree, p) for p in packages) if licenses else packages,
        image_digest=image_digest,
        image_name=image_name,
        warnings=tuple(warnings),
    )


__all__ = ["DEBIAN_VERSION", "INDEX_KEY", "OS_RELEASE", "STATUS", "STATUS_D", "detect", "wanted"]
