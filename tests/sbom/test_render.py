"""SPDX 2.3 and CycloneDX 1.6 output: valid against the official schemas (and spdx-tools'
semantic validator), reproducible, and read back to the same packages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.schemas import validate
from zerocve import sbom
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Distro, Inventory
from zerocve.inventory.sbom_reader import read_sbom
from zerocve.sbom import FORMATS

SCHEMA = {"spdx-json": "spdx-schema-2.3.json", "cyclonedx-json": "bom-1.6.schema.json"}
DIGEST = "sha256:" + "ab" * 32
DEB_SHA = "0f" * 32


def inventory(**changes: object) -> Inventory:
    packages = (
        InstalledPackage(
            "bash",
            "5.2.15-2+b7",
            "amd64",
            "bash",
            "5.2.15-2",
            licenses=("GPL-3.0-or-later", "LicenseRef-permissive"),
        ),
        InstalledPackage(
            "libc6",
            "2.36-9+deb12u9",
            "amd64",
            "glibc",
            "2.36-9+deb12u9",
            licenses=("LGPL-2.1-or-later AND GPL-2.0-or-later",),
        ),
        InstalledPackage(
            "libgcc-s1",
            "12.2.0-14",
            "amd64",
            "gcc-12",
            "12.2.0-14",
            licenses=("GPL-3.0-or-later WITH GCC-exception-3.1",),
        ),
        InstalledPackage("libstdc++6", "12.2.0-14", "amd64", "gcc-12", "12.2.0-14"),
        InstalledPackage(
            "tzdata",
            "2024a-0+deb12u1",
            "all",
            "tzdata",
            "2024a-0+deb12u1",
            licenses=("LicenseRef-public-domain",),
        ),
        InstalledPackage("libgcrypt20", "1.10.1-3", "amd64", "libgcrypt20", "1.10.1-3"),
        InstalledPackage(
            "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", licenses=("Zlib",)
        ),
    )
    fields: dict[str, object] = {
        "target": "out/python",
        "distro": Distro("debian", "12", "bookworm"),
        "packages": packages,
        "image_digest": DIGEST,
        "image_name": "127.0.0.1:5000/team/python:3.11",
    }
    fields.update(changes)
    return Inventory(**fields)  # type: ignore[arg-type]


EPOCH = 1700000000


def render_sbom(inventory: Inventory, fmt: str, **options: Any) -> str:
    """The SBOM at a fixed date (a build passes its SOURCE_DATE_EPOCH the same way)."""
    options.setdefault("epoch", EPOCH)
    return sbom.render_sbom(inventory, fmt, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("image", [True, False], ids=["image", "rootfs"])
def test_valid_against_official_schema(fmt: str, image: bool) -> None:
    inv = inventory() if image else inventory(image_digest=None, image_name=None, target="/srv/r")
    document = json.loads(render_sbom(inv, fmt, checksums={"bash:amd64": DEB_SHA}))  # type: ignore[arg-type]
    validate(document, SCHEMA[fmt])


def test_spdx_semantics_pass_spdx_tools(tmp_path: Path) -> None:
    """spdx-tools checks what the schema cannot: license expressions against the SPDX list,
    every LicenseRef defined, every relationship pointing at an existing element."""
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "image.spdx.json"
    path.write_text(render_sbom(inventory(), "spdx-json"))
    messages = validate_full_spdx_document(parse_file(str(path)))
    assert [m.validation_message for m in messages] == []


def test_cyclonedx_passes_cyclonedx_python_lib() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        render_sbom(inventory(), "cyclonedx-json")
    )
    assert error is None, error


def test_spdx_structure() -> None:
    document = json.loads(render_sbom(inventory(), "spdx-json", checksums={"bash:amd64": DEB_SHA}))
    by_id = {p["SPDXID"]: p for p in document["packages"]}
    rels = [
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
        for r in document["relationships"]
    ]
    (describes,) = [r for r in rels if r[1] == "DESCRIBES"]
    root = by_id[describes[2]]
    assert root["primaryPackagePurpose"] == "CONTAINER"
    assert root["versionInfo"] == DIGEST
    assert root["externalRefs"][0]["referenceLocator"].startswith(f"pkg:oci/python@{DIGEST}")
    generated = {by_id[a]["name"]: by_id[b] for a, kind, b in rels if kind == "GENERATED_FROM"}
    assert generated["libstdc++6"] is generated["libgcc-s1"]  # one gcc-12 source package
    assert generated["bash"]["versionInfo"] == "5.2.15-2"  # binNMU: the source's own version
    assert generated["bash"]["externalRefs"][0]["referenceLocator"] == (
        "pkg:deb/debian/bash@5.2.15-2?arch=source&distro=debian-12"
    )
    contained = {by_id[b]["name"] for a, kind, b in rels if kind == "CONTAINS"}
    assert contained == {p.name for p in inventory().packages}
    bash = next(p for p in document["packages"] if p["name"] == "bash")
    assert bash["licenseDeclared"] == "GPL-3.0-or-later AND LicenseRef-permissive"
    assert bash["checksums"] == [{"algorithm": "SHA256", "checksumValue": DEB_SHA}]
    assert bash["externalRefs"][0]["referenceLocator"] == (
        "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12"
    )
    defined = {e["licenseId"] for e in document["hasExtractedLicensingInfos"]}
    assert defined == {"LicenseRef-permissive", "LicenseRef-public-domain"}
    assert document["creationInfo"]["created"] == "2023-11-14T22:13:20Z"


def test_cyclonedx_structure() -> None:
    document = json.loads(
        render_sbom(inventory(), "cyclonedx-json", checksums={"zlib1g:amd64": "sha256:" + DEB_SHA})
    )
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    assert document["metadata"]["component"]["type"] == "container"
    components = {c["name"]: c for c in document["components"]}
    zlib = components["zlib1g"]
    assert zlib["purl"] == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    assert zlib["hashes"] == [{"alg": "SHA-256", "content": DEB_SHA}]
    (ancestor,) = zlib["pedigree"]["ancestors"]
    assert (ancestor["name"], ancestor["version"]) == ("zlib", "1:1.2.13.dfsg-1")
    assert "arch=source" in ancestor["purl"]
    assert components["libc6"]["licenses"] == [
        {"expression": "LGPL-2.1-or-later AND GPL-2.0-or-later", "acknowledgement": "declared"}
    ]
    assert "licenses" not in components["libgcrypt20"]
    root_deps = document["dependencies"][0]
    assert root_deps["ref"] == document["metadata"]["component"]["bom-ref"]
    assert sorted(root_deps["dependsOn"]) == sorted(c["bom-ref"] for c in components.values())


@pytest.mark.parametrize("fmt", FORMATS)
def test_reproducible_under_source_date_epoch(fmt: str) -> None:
    first = render_sbom(inventory(), fmt)  # type: ignore[arg-type]
    assert render_sbom(inventory(), fmt) == first  # type: ignore[arg-type]
    changed = inventory(packages=inventory().packages[:-1])
    assert render_sbom(changed, fmt) != first  # type: ignore[arg-type]
    later = render_sbom(inventory(), fmt, epoch=EPOCH + 1)
    key = "serialNumber" if fmt == "cyclonedx-json" else "documentNamespace"
    assert json.loads(later)[key] != json.loads(first)[key]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt: str) -> None:
    original = inventory()
    back = read_sbom(render_sbom(original, fmt).encode(), target="x.json")  # type: ignore[arg-type]
    fields = [
        (p.name, p.version, p.architecture, p.source, p.source_version) for p in original.packages
    ]
    assert [
        (p.name, p.version, p.architecture, p.source, p.source_version) for p in back.packages
    ] == sorted(fields)
    from zerocve.inventory.licenses import conjunction

    assert {p.name: conjunction(p.licenses) for p in back.packages} == {
        p.name: conjunction(p.licenses) for p in original.packages
    }
    assert back.distro == original.distro
    assert back.image_digest == DIGEST


def test_bad_checksum_is_refused() -> None:
    with pytest.raises(ValueError, match="bash:amd64"):
        render_sbom(inventory(), "spdx-json", checksums={"bash:amd64": "md5:abc"})
