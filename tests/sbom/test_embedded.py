"""The SBOM a built image carries, from real .debs' control fields and copyright files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.schemas import validate
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.dpkg import parse_source
from zerocve.sbom.embedded import EMBEDDED_SBOM, embedded_sbom

pytestmark = pytest.mark.slow
NAMES = ("base-files", "ca-certificates", "libssl3", "netbase", "tzdata")


def deb_facts(deb: Path) -> tuple[InstalledPackage, str, str]:
    """(package, copyright text, sha256) read from a real .deb with dpkg-deb."""
    fields = subprocess.run(
        [
            "dpkg-deb",
            "--show",
            "--showformat=${Package}\\t${Version}\\t${Architecture}\\t${Source}",
            str(deb),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\t")
    name, version, arch, source_field = fields
    source, source_version = parse_source(source_field, name, version) or (name, version)
    copyright_text = subprocess.run(
        f"dpkg-deb --fsys-tarfile {deb} | tar -xOf - ./usr/share/doc/{name}/copyright",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sha = subprocess.run(
        ["sha256sum", str(deb)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    return InstalledPackage(name, version, arch, source, source_version), copyright_text, sha


def test_embedded_sbom_from_real_debs(
    apt_repo: AptRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    debs = {}
    for name in NAMES:
        found = sorted(apt_repo.root.glob(f"pool/*/{name}_*_amd64.deb")) or sorted(
            apt_repo.root.glob(f"pool/*/{name}_*_all.deb")
        )
        assert found, name
        debs[name] = deb_facts(found[-1])
    os_release = subprocess.run(
        f"dpkg-deb --fsys-tarfile {sorted(apt_repo.root.glob('pool/*/base-files_*_amd64.deb'))[-1]}"
        " | tar -xOf - ./usr/lib/os-release",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def render() -> bytes:
        return embedded_sbom(
            [facts[0] for facts in debs.values()],
            image_name="127.0.0.1:5000/team/static:1",
            os_release=os_release,
            copyrights={name: facts[1] for name, facts in debs.items()},
            checksums={f"{f[0].name}:{f[0].architecture}": f[2] for f in debs.values()},
            epoch=1730000000,
        )

    data = render()
    assert render() == data  # reproducible
    document = json.loads(data)
    validate(document, "spdx-schema-2.3.json")
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / Path(EMBEDDED_SBOM).name
    path.write_bytes(data)
    assert validate_full_spdx_document(parse_file(str(path))) == []

    packages = {
        p["name"]: p
        for p in document["packages"]
        if "externalRefs" in p and p.get("primaryPackagePurpose") is None
    }
    assert packages["tzdata"]["licenseDeclared"] == "LicenseRef-public-domain"
    assert packages["ca-certificates"]["licenseDeclared"] == "GPL-2.0-or-later AND MPL-2.0"
    assert packages["libssl3"]["checksums"][0]["checksumValue"] == debs["libssl3"][2]
    purl = packages["libssl3"]["externalRefs"][0]["referenceLocator"]
    assert purl.startswith("pkg:deb/debian/libssl3@") and purl.endswith(
        "?arch=amd64&distro=debian-12"
    )
    sources = {
        p["name"] for p in document["packages"] if p.get("primaryPackagePurpose") == "SOURCE"
    }
    assert "openssl" in sources
    root = next(p for p in document["packages"] if p["SPDXID"] == "SPDXRef-root")
    assert root["name"] == "127.0.0.1:5000/team/static:1"
    assert "versionInfo" not in root  # the digest is not known inside the image
