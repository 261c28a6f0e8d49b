"""SPDX 2.3 JSON from an inventory.

Shape: the document ``DESCRIBES`` one root package (the image, purpose ``CONTAINER``; a root
filesystem is an ``OPERATING_SYSTEM``), which ``CONTAINS`` every installed binary package;
each binary is ``GENERATED_FROM`` its Debian source package (SPDX 2.3 §11.1: "SPDXRef-A is
generated from SPDXRef-B", the spec's own example being a binary built from source), and
source packages are packages of purpose ``SOURCE`` with an ``arch=source`` purl. Licenses are
``licenseDeclared`` (what the copyright file declares; nothing is concluded), and every
``LicenseRef-`` used is defined in ``hasExtractedLicensingInfos`` as SPDX requires.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from zerocve import __version__
from zerocve.bom.common import (
    TOOL,
    Checksums,
    checksum,
    creation_time,
    source_purl,
    subject_name,
)
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.licenses import conjunction
from zerocve.inventory.model import Inventory
from zerocve.inventory.purls import image_purl, package_purl

NOASSERTION = "NOASSERTION"
_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


def _spdx_id(kind: str, *parts: str) -> str:
    """``SPDXRef-<kind>-<readable>-<hash>``: SPDX ids allow only letters, digits, ``.`` and
    ``-``, so ``libstdc++6`` is spelled ``libstdc--6`` and a short hash keeps ids unique."""
    readable = re.sub(r"[^A-Za-z0-9.-]", "-", "-".join(parts))
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    return f"SPDXRef-{kind}-{readable}-{digest}"


def _stable_uuid(inventory: Inventory, created: str) -> uuid.UUID:
    """A UUID that depends only on what the document says, so the same inventory at the same
    SOURCE_DATE_EPOCH gives the same bytes, and any change gives a new namespace."""
    content = json.dumps(
        [
            "spdx",
            created,
            subject_name(inventory),
            inventory.image_digest,
            [
                (p.name, p.version, p.architecture, p.source, p.source_version, p.licenses)
                for p in inventory.packages
            ],
        ]
    )
    return uuid.uuid5(uuid.NAMESPACE_URL, "zerocve:" + hashlib.sha256(content.encode()).hexdigest())


def _purl_ref(purl: str) -> list[dict[str, str]]:
    return [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
    ]


def _binary(
    package: InstalledPackage, inventory: Inventory, checksums: Checksums | None
) -> dict[str, Any]:
    declared = conjunction(package.licenses)
    entry: dict[str, Any] = {
        "SPDXID": _spdx_id("deb", package.name, package.architecture),
        "name": package.name,
        "versionInfo": package.version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": declared or NOASSERTION,
        "copyrightText": NOASSERTION,
        "sourceInfo": f"built from Debian source package {package.source} {package.source_version}",
        "externalRefs": _purl_ref(package_purl(package, inventory)),
    }
    sha256 = checksum(package, checksums)
    if sha256 is not None:
        entry["checksums"] = [{"algorithm": "SHA256", "checksumValue": sha256}]
    return entry


def _source(package: InstalledPackage, inventory: Inventory) -> dict[str, Any]:
    return {
        "SPDXID": _spdx_id("src", package.source, package.source_version),
        "name": package.source,
        "versionInfo": package.source_version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "SOURCE",
        "externalRefs": _purl_ref(source_purl(package, inventory)),
    }


def _root(inventory: Inventory) -> dict[str, Any]:
    root: dict[str, Any] = {
        "SPDXID": "SPDXRef-root",
        "name": subject_name(inventory),
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        # The 2.3 JSON schema spells this value with an underscore (the tag-value format
        # uses a dash); JSON documents must follow the schema.
        "primaryPackagePurpose": "CONTAINER" if inventory.is_image else "OPERATING_SYSTEM",
    }
    if inventory.image_digest:
        root["versionInfo"] = inventory.image_digest
    purl = image_purl(inventory)
    if purl is not None:
        root["externalRefs"] = _purl_ref(purl)
    return root


def _extracted(packages: list[dict[str, Any]]) -> list[dict[str, str]]:
    refs = sorted({ref for p in packages for ref in _LICENSE_REF.findall(p["licenseDeclared"])})
    return [
        {
            "licenseId": ref,
            "name": ref.removeprefix("LicenseRef-"),
            "extractedText": f"The license named {ref.removeprefix('LicenseRef-')!r} in a Debian "
            "machine-readable copyright file (usr/share/doc/<package>/copyright), which has "
            "no SPDX identifier or no obvious one.",
        }
        for ref in refs
    ]


def render(
    inventory: Inventory, *, checksums: Checksums | None = None, epoch: int | None = None
) -> str:
    """The SPDX 2.3 JSON document, deterministic for a given inventory and creation time."""
    created = creation_time(epoch)
    root = _root(inventory)
    binaries = [_binary(p, inventory, checksums) for p in inventory.packages]
    sources: dict[str, dict[str, Any]] = {}
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": root["SPDXID"],
        }
    ]
    for package, binary in zip(inventory.packages, binaries, strict=True):
        source = sources.setdefault(
            f"{package.source}\0{package.source_version}", _source(package, inventory)
        )
        relationships.append(
            {
                "spdxElementId": root["SPDXID"],
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": binary["SPDXID"],
            }
        )
        relationships.append(
            {
                "spdxElementId": binary["SPDXID"],
                "relationshipType": "GENERATED_FROM",
                "relatedSpdxElement": source["SPDXID"],
            }
        )
    name = subject_name(inventory)
    serial = _stable_uuid(inventory, created)
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        # The namespace SPDX's own examples use; unique per content and creation time.
        "documentNamespace": "https://spdx.org/spdxdocs/zerocve/"
        + re.sub(r"[^A-Za-z0-9._-]", "-", name)
        + f"-{serial}",
        "creationInfo": {"created": created, "creators": [f"Tool: {TOOL}-{__version__}"]},
        "packages": [root, *binaries, *(sources[k] for k in sorted(sources))],
        "relationships": relationships,
    }
    extracted = _extracted(binaries)
    if extracted:
        document["hasExtractedLicensingInfos"] = extracted
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = ["render"]
