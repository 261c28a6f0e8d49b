"""Choosing the image in a layout (platforms, nested indexes, tags, attestations), telling
target kinds apart, and reading other tools' SBOMs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagekit import LayoutWriter, status

from zerocve.errors import ImageError, InventoryError, UsageError
from zerocve.inventory import open_inventory
from zerocve.inventory.model import Distro
from zerocve.inventory.targets import kind_of


def image_with(writer: LayoutWriter, name: str, arch: str, **kw: object) -> dict[str, object]:
    return writer.image([[("var/lib/dpkg/status", status((name, "1", arch, "")))]], arch=arch, **kw)  # type: ignore[arg-type]


def only_names(target: str, **kw: str) -> list[str]:
    return [p.name for p in open_inventory(target, **kw).packages]  # type: ignore[arg-type]


@pytest.fixture
def multi(tmp_path: Path) -> Path:
    """index.json → a nested image index (amd64, arm64/v8, an attestation manifest)."""
    writer = LayoutWriter(tmp_path / "multi")
    amd64 = image_with(writer, "on-amd64", "amd64")
    arm64 = image_with(writer, "on-arm64", "arm64")
    arm64["platform"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    # BuildKit-style attestation: a manifest whose config is not an image config.
    attestation = writer.blob(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": writer.blob(b"{}", "application/vnd.in-toto+json"),
                "layers": [],
            }
        ).encode(),
        "application/vnd.oci.image.manifest.v1+json",
        platform={"os": "unknown", "architecture": "unknown"},
    )
    nested = writer.index([arm64, attestation, amd64])
    writer.top([{**nested, "annotations": {"org.opencontainers.image.ref.name": "latest"}}])
    return writer.root


def test_default_platform_is_linux_amd64(multi: Path) -> None:
    assert only_names(str(multi)) == ["on-amd64"]


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/arm64/v8"])
def test_platform_choice(multi: Path, platform: str) -> None:
    assert only_names(str(multi), platform=platform) == ["on-arm64"]


def test_unknown_platform_lists_the_offered_ones(multi: Path) -> None:
    with pytest.raises(ImageError) as caught:
        open_inventory(str(multi), platform="linux/s390x")
    assert str(caught.value) == (
        f"{multi}: no image for platform linux/s390x (offered: linux/amd64, linux/arm64/v8); "
        "choose one with --platform"
    )


def test_bad_platform_syntax(multi: Path) -> None:
    with pytest.raises(UsageError, match="expected OS/ARCH"):
        open_inventory(str(multi), platform="amd64")


def test_single_image_of_another_arch_needs_no_flag(tmp_path: Path) -> None:
    writer = LayoutWriter(tmp_path / "one")
    writer.top([image_with(writer, "only", "arm64", platform_in_descriptor=False)])
    assert only_names(str(writer.root)) == ["only"]
    # Asked for explicitly, the platform is checked against the image's config.
    assert only_names(str(writer.root), platform="linux/arm64") == ["only"]
    with pytest.raises(ImageError, match="the image is for linux/arm64, not for linux/amd64"):
        open_inventory(str(writer.root), platform="linux/amd64")


def test_tag_selection(tmp_path: Path) -> None:
    writer = LayoutWriter(tmp_path / "tags")
    first = image_with(writer, "first", "amd64")
    second = image_with(writer, "second", "amd64")
    writer.top(
        [
            {**first, "annotations": {"org.opencontainers.image.ref.name": "v1"}},
            {**second, "annotations": {"org.opencontainers.image.ref.name": "v2"}},
        ]
    )
    assert only_names(f"oci:{writer.root}:v2") == ["second"]
    assert only_names(f"oci:{writer.root}:v1") == ["first"]
    with pytest.raises(ImageError, match="no image manifest tagged 'v3'"):
        open_inventory(f"oci:{writer.root}:v3")


def test_manifest_blob_tampered(tmp_path: Path) -> None:
    writer = LayoutWriter(tmp_path / "t")
    descriptor = image_with(writer, "pkg", "amd64")
    writer.top([descriptor])
    blob = writer.root / "blobs" / "sha256" / str(descriptor["digest"])[7:]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(ImageError, match="does not match its digest"):
        open_inventory(str(writer.root))


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("not json", "index.json:1:1: invalid JSON"),
        ("[]", "index.json: not a JSON object"),
        ('{"manifests": [{"mediaType": "x"}]}', "index entry without a digest"),
        ('{"manifests": "x"}', "index has no 'manifests' list"),
        (
            '{"manifests": [{"digest": "sha256:../../etc", '
            '"mediaType": "application/vnd.oci.image.manifest.v1+json"}]}',
            "invalid digest",
        ),
        ('{"manifests": []}', "no image manifest at all"),
    ],
)
def test_broken_layouts(tmp_path: Path, index: str, message: str) -> None:
    root = LayoutWriter(tmp_path / "broken").root
    (root / "index.json").write_text(index)
    with pytest.raises(ImageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        open_inventory(str(root))


def test_missing_blob(tmp_path: Path) -> None:
    writer = LayoutWriter(tmp_path / "m")
    descriptor = image_with(writer, "pkg", "amd64")
    writer.top([descriptor])
    (writer.root / "blobs" / "sha256" / str(descriptor["digest"])[7:]).unlink()
    with pytest.raises(ImageError, match=r"blobs/sha256/[0-9a-f]{64} is missing"):
        open_inventory(str(writer.root))


def test_kinds(tmp_path: Path) -> None:
    writer = LayoutWriter(tmp_path / "layout")
    writer.top([])
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "bom.json").write_text("{}")
    (tmp_path / "image.tar").write_bytes(b"\0" * 1024)
    assert kind_of(str(writer.root)) == ("layout", str(writer.root))
    assert kind_of(str(tmp_path / "rootfs")) == ("rootfs", str(tmp_path / "rootfs"))
    assert kind_of(str(tmp_path / "bom.json"))[0] == "sbom"
    assert kind_of(str(tmp_path / "image.tar"))[0] == "archive"
    assert kind_of("127.0.0.1:5000/team/app:1") == ("registry", "127.0.0.1:5000/team/app:1")
    assert kind_of("docker://debian:12") == ("registry", "debian:12")
    assert kind_of(f"dir:{writer.root}") == ("rootfs", str(writer.root))
    with pytest.raises(UsageError, match=r"debian:12: no such file .* docker://debian:12"):
        kind_of("debian:12")  # never sent to Docker Hub by accident
    with pytest.raises(UsageError, match=r"^\./typo: no such file or directory$"):
        kind_of("./typo")


def test_not_an_image_archive(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "other.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(__file__, arcname="notes.txt")
    with pytest.raises(ImageError, match="neither an OCI archive nor a docker-archive"):
        open_inventory(str(path))
    with tarfile.open(path, "w") as tar:
        tar.add(__file__, arcname="manifest.json")
    with pytest.raises(ImageError, match="manifest.json:1:3: invalid JSON"):
        open_inventory(str(path))
    (tmp_path / "junk.tar").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ImageError, match="not a readable tar archive"):
        open_inventory(str(tmp_path / "junk.tar"))


# ---- SBOMs written by other tools --------------------------------------------------------

SYFT_CDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "metadata": {"component": {"type": "container", "name": "python", "version": "sha256:aa"}},
    "components": [
        {
            "type": "library",
            "name": "libsqlite3-0",
            "version": "3.40.1-2",
            "purl": "pkg:deb/debian/libsqlite3-0@3.40.1-2?arch=amd64&upstream=sqlite3"
            "&distro=debian-12",
            "licenses": [{"license": {"id": "blessing"}}],
        },
        {
            "type": "library",
            "name": "bash",
            "version": "5.2.15-2+b7",
            "purl": "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&upstream=bash%405.2.15-2"
            "&distro=debian-12",
        },
        {"type": "library", "name": "pip", "version": "23.0", "purl": "pkg:pypi/pip@23.0"},
        {"type": "operating-system", "name": "debian", "version": "12"},
    ],
}

TRIVY_CDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "metadata": {
        "component": {
            "type": "container",
            "name": "127.0.0.1:5000/x:1",
            "purl": "pkg:oci/x@sha256%3A" + "cd" * 32 + "?repository_url=127.0.0.1%3A5000%2Fx",
        }
    },
    "components": [
        {
            "type": "library",
            "name": "libgcrypt20",
            "version": "1.10.1-3",
            "purl": "pkg:deb/debian/libgcrypt20@1.10.1-3?arch=amd64&distro=debian-12.8&epoch=1",
            "properties": [
                {"name": "aquasecurity:trivy:SrcName", "value": "libgcrypt20"},
                {"name": "aquasecurity:trivy:SrcVersion", "value": "1.10.1"},
                {"name": "aquasecurity:trivy:SrcRelease", "value": "3"},
                {"name": "aquasecurity:trivy:SrcEpoch", "value": "1"},
            ],
        },
    ],
}

SYFT_SPDX = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "packages": [
        {
            "SPDXID": "SPDXRef-Package-deb-libssl3",
            "name": "libssl3",
            "versionInfo": "3.0.15-1~deb12u1",
            "licenseDeclared": "Apache-2.0",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:deb/debian/libssl3@3.0.15-1~deb12u1"
                    "?arch=amd64&upstream=openssl&distro=debian-12",
                }
            ],
        },
        {
            "SPDXID": "SPDXRef-Package-deb-tzdata",
            "name": "tzdata",
            "licenseDeclared": "NOASSERTION",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE_MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:deb/debian/tzdata@2024a-0+deb12u1"
                    "?arch=all&distro=debian-12",
                }
            ],
        },
    ],
}


def _write(tmp_path: Path, document: object) -> str:
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_syft_cyclonedx(tmp_path: Path) -> None:
    inv = open_inventory(_write(tmp_path, SYFT_CDX))
    got = {p.name: (p.version, p.source, p.source_version, p.licenses) for p in inv.packages}
    assert got == {
        "bash": ("5.2.15-2+b7", "bash", "5.2.15-2", ()),
        "libsqlite3-0": ("3.40.1-2", "sqlite3", "3.40.1-2", ("blessing",)),
    }
    assert inv.distro == Distro("debian", "12", "bookworm")
    assert inv.warnings == (f"{tmp_path / 'sbom.json'}: 1 non-Debian component(s) ignored",)


def test_trivy_cyclonedx(tmp_path: Path) -> None:
    inv = open_inventory(_write(tmp_path, TRIVY_CDX))
    (pkg,) = inv.packages
    assert (pkg.version, pkg.source, pkg.source_version) == (
        "1:1.10.1-3",
        "libgcrypt20",
        "1:1.10.1-3",
    )
    assert inv.distro == Distro("debian", "12", "bookworm")  # "debian-12.8" → release 12
    assert inv.image_digest == "sha256:" + "cd" * 32
    assert inv.image_name == "127.0.0.1:5000/x"


def test_syft_spdx(tmp_path: Path) -> None:
    inv = open_inventory(f"sbom:{_write(tmp_path, SYFT_SPDX)}")
    got = {p.name: (p.source, p.licenses) for p in inv.packages}
    assert got == {"libssl3": ("openssl", ("Apache-2.0",)), "tzdata": ("tzdata", ())}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"hello": "world"}', "neither a CycloneDX nor an SPDX 2.x JSON document"),
        (
            '{"bomFormat": "CycloneDX", "components": [{"purl": "pkg:npm/x@1"}]}',
            "no Debian packages (pkg:deb purls) in this SBOM",
        ),
    ],
)
def test_bad_sboms(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InventoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_inventory(str(path))


@pytest.mark.slow
def test_unreachable_registry() -> None:
    """Connection refused: retried with backoff, then one line naming host and repository."""
    import socket

    from zerocve.errors import RegistryError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RegistryError) as caught:
        open_inventory(f"127.0.0.1:{port}/team/app:1")
    message = caught.value.diagnostics()
    assert message.startswith(f"127.0.0.1:{port}/team/app: get manifest 1: ")
    assert "\n" not in message
