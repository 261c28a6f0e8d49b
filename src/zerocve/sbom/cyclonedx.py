"""CycloneDX 1.6 JSON from an inventory.

Shape: ``metadata.component`` is the image (type ``container``; a root filesystem is an
``operating-system``), every installed binary package is a ``library`` component with its
purl as ``bom-ref``, and the root ``dependsOn`` each of them. The binary → source relation
is ``pedigree.ancestors``, which the 1.6 schema defines as "zero or more components in which
a component is derived from" (a binary package is derived from its source package); the
ancestor carries the source's ``arch=source`` purl. Licenses are one SPDX expression with
``acknowledgement: declared`` (CycloneDX 1.6 ``licenseChoice``), hashes the ``.deb`` SHA-256.
"""

from __future__ import annotations

import json
from typing import Any

from zerocve import __version__
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.licenses import conjunction
from zerocve.inventory.model import Inventory
from zerocve.sbom._common import (
    TOOL,
    Checksums,
    checksum,
    creation_time,
    source_purl,
    stable_uuid,
    subject_name,
)
from zerocve.vuln.purls import image_purl, package_purl

SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"
ROOT_REF = "zerocve:root"


def _component(
    package: InstalledPackage, inventory: Inventory, checksums: Checksums | None
) -> dict[str, Any]:
    purl = package_purl(package, inventory)
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
    }
    declared = conjunction(package.licenses)
    if declared is not None:
        component["licenses"] = [{"expression": declared, "acknowledgement": "declared"}]
    sha256 = checksum(package, checksums)
    if sha256 is not None:
        component["hashes"] = [{"alg": "SHA-256", "content": sha256}]
    component["pedigree"] = {
        "ancestors": [
            {
                "type": "library",
                "name": package.source,
                "version": package.source_version,
                "purl": source_purl(package, inventory),
            }
        ]
    }
    return component


def _root(inventory: Inventory) -> dict[str, Any]:
    is_image = inventory.image_digest is not None or inventory.image_name is not None
    root: dict[str, Any] = {
        "type": "container" if is_image else "operating-system",
        "bom-ref": ROOT_REF,
        "name": subject_name(inventory),
    }
    if inventory.image_digest:
        root["version"] = inventory.image_digest
    purl = image_purl(inventory)
    if purl is not None:
        root["purl"] = purl
    return root


def render(
    inventory: Inventory, *, checksums: Checksums | None = None, epoch: int | None = None
) -> str:
    """The CycloneDX 1.6 JSON document, deterministic for a given inventory and time."""
    created = creation_time(epoch)
    components = [_component(p, inventory, checksums) for p in inventory.packages]
    document: dict[str, Any] = {
        "$schema": SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{stable_uuid(inventory, created, 'cyclonedx')}",
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{"type": "application", "name": TOOL, "version": __version__}]
            },
            "component": _root(inventory),
        },
        "components": components,
        "dependencies": [
            {"ref": ROOT_REF, "dependsOn": [c["bom-ref"] for c in components]},
            *({"ref": c["bom-ref"]} for c in components),
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = ["SCHEMA", "render"]
