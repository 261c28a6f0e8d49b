"""The CycloneDX 1.6 document of an inventory: the one builder behind ``zerocve sbom -o
cyclonedx-json`` (``zerocve.sbom.cyclonedx``) and ``zerocve scan -o cyclonedx`` (which adds
``vulnerabilities``).

Shape: ``metadata.component`` is the image (type ``container``; a root filesystem is an
``operating-system``), every installed binary package is a ``library`` component with its
purl as ``bom-ref`` (``component_ref``), and the root ``dependsOn`` each of them. The binary →
source relation is ``pedigree.ancestors``, which the 1.6 schema defines as "zero or more
components in which a component is derived from" (a binary package is derived from its source
package); the ancestor carries the source's ``arch=source`` purl. Licenses are one SPDX
expression with ``acknowledgement: declared`` (CycloneDX 1.6 ``licenseChoice``), hashes the
``.deb`` SHA-256. The properties ``zerocve:architecture``, ``zerocve:source`` and
``zerocve:sourceVersion`` repeat the package's architecture and source as plain values.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from zerocve import __version__
from zerocve.bom.common import (
    TOOL,
    Checksums,
    checksum,
    source_purl,
    subject_name,
)
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.licenses import conjunction
from zerocve.inventory.model import Inventory
from zerocve.inventory.purls import image_purl, package_purl

SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"
ROOT_REF = "zerocve:root"


def component_ref(package: InstalledPackage, inventory: Inventory) -> str:
    """The ``bom-ref`` of a package's component (its purl): what ``affects[].ref`` names."""
    return package_purl(package, inventory)


def _component(
    package: InstalledPackage, inventory: Inventory, checksums: Checksums | None
) -> dict[str, Any]:
    purl = component_ref(package, inventory)
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
    component["properties"] = [
        {"name": "zerocve:architecture", "value": package.architecture},
        {"name": "zerocve:source", "value": package.source},
        {"name": "zerocve:sourceVersion", "value": package.source_version},
    ]
    return component


def _root(inventory: Inventory) -> dict[str, Any]:
    root: dict[str, Any] = {
        "type": "container" if inventory.is_image else "operating-system",
        "bom-ref": ROOT_REF,
        "name": subject_name(inventory),
    }
    if inventory.image_digest:
        root["version"] = inventory.image_digest
    purl = image_purl(inventory)
    if purl is not None:
        root["purl"] = purl
    return root


def serial_number(document: dict[str, Any]) -> str:
    """``urn:uuid:…`` derived from everything else the document says: the same content gives
    the same serial number, any change (a package, a hash, the time, a vulnerability) a new
    one. Whoever adds to a ``bom`` sets its ``serialNumber`` again with this."""
    rest = {key: value for key, value in document.items() if key != "serialNumber"}
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"zerocve:cyclonedx:{digest}").urn


def bom(
    inventory: Inventory,
    *,
    checksums: Checksums | None = None,
    timestamp: str,
    tool_version: str = __version__,
) -> dict[str, Any]:
    """The CycloneDX 1.6 document (metadata, root, components in ``bom-ref`` order,
    dependencies), deterministic for a given inventory, checksums and ``timestamp``."""
    components: dict[str, dict[str, Any]] = {}
    for package in inventory.packages:
        component = _component(package, inventory, checksums)
        components.setdefault(component["bom-ref"], component)
    refs = sorted(components)
    document: dict[str, Any] = {
        "$schema": SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {
                "components": [{"type": "application", "name": TOOL, "version": tool_version}]
            },
            "component": _root(inventory),
        },
        "components": [components[ref] for ref in refs],
        "dependencies": [
            {"ref": ROOT_REF, "dependsOn": refs},
            *({"ref": ref} for ref in refs),
        ],
    }
    document["serialNumber"] = serial_number(document)
    return document


__all__ = ["ROOT_REF", "SCHEMA", "bom", "component_ref", "serial_number"]
