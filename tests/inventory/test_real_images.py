"""Scanning images zerocve did not build: a root filesystem made by mmdebstrap from real
.debs, packed by umoci (with a whiteout layer), copied by skopeo to an oci-archive, to zstd
layers and to Debian's docker-registry on 127.0.0.1. dpkg-query is the reference."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.registry import Registry
from support.schemas import validate
from zerocve.errors import ImageError, RegistryError
from zerocve.inventory import open_inventory
from zerocve.inventory.model import Distro, Inventory

pytestmark = pytest.mark.slow

PACKAGES = "base-files,netbase,tzdata,ca-certificates"
Row = tuple[str, str, str, str, str]


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def rootfs(apt_repo: AptRepo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("mmdebstrap --mode=root needs root")
    root = tmp_path_factory.mktemp("mmdebstrap") / "rootfs"
    sources = [
        # copy://: mmdebstrap's dpkg runs inside the chroot, where file:// paths are not.
        f"deb [signed-by={apt_repo.keyring}] copy://{apt_repo.root} {suite} main"
        for suite in apt_repo.suites
    ]
    run(
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        "--mode=root",
        f"--include={PACKAGES}",
        # apt's download methods drop to _apt, which cannot read pytest's private temp dirs.
        '--aptopt=APT::Sandbox::User "root"',
        "bookworm",
        str(root),
        *sources,
    )
    return root


def dpkg_query(root: Path) -> set[Row]:
    """(package, arch, version, source, source version) of every installed package, as dpkg
    itself reports them."""
    out = run(
        "dpkg-query",
        f"--admindir={root}/var/lib/dpkg",
        "-W",
        "-f",
        "${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t"
        "${source:Version}\n",
    )
    rows = set()
    for line in out.splitlines():
        status, *fields = line.split("\t")
        if status.startswith("ii"):
            rows.add(tuple(fields))
    return rows  # type: ignore[return-value]


def rows(inventory: Inventory) -> set[Row]:
    return {
        (p.name, p.architecture, p.version, p.source, p.source_version) for p in inventory.packages
    }


def test_mmdebstrap_root_filesystem(rootfs: Path) -> None:
    inv = open_inventory(str(rootfs))
    expected = dpkg_query(rootfs)
    assert len(expected) > 50  # the Essential set and the four packages, with dependencies
    assert rows(inv) == expected
    assert inv.distro == Distro("debian", "12", "bookworm")
    assert inv.warnings == ()
    licenses = {p.name: p.licenses for p in inv.packages}
    # Read by hand from these packages' DEP-5 copyright files.
    assert licenses["ca-certificates"] == ("GPL-2.0-or-later", "MPL-2.0")
    assert licenses["tzdata"] == ("LicenseRef-public-domain",)
    assert licenses["netbase"] == ("GPL-2.0-only",)
    assert licenses["base-files"] == ()  # free-form copyright file


@pytest.fixture(scope="module")
def layout(rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """umoci's layout of the root filesystem (tag ``base``), then a second image (tag
    ``notz``) whose extra layer deletes tzdata: umoci writes the whiteouts."""
    work = tmp_path_factory.mktemp("umoci")
    image, bundle = work / "layout", work / "bundle"
    run("umoci", "init", "--layout", str(image))
    run("umoci", "new", "--image", f"{image}:base")
    run("umoci", "unpack", "--image", f"{image}:base", str(bundle))
    subprocess.run(
        f"tar -C {rootfs} -cf - . | tar -C {bundle}/rootfs -xpf -", shell=True, check=True
    )
    run("umoci", "repack", "--refresh-bundle", "--image", f"{image}:base", str(bundle))
    target = bundle / "rootfs"
    shutil.rmtree(target / "usr/share/doc/tzdata")
    shutil.rmtree(target / "usr/share/zoneinfo")
    status = (target / "var/lib/dpkg/status").read_text()
    stanzas = [s for s in status.split("\n\n") if s and not s.startswith("Package: tzdata\n")]
    (target / "var/lib/dpkg/status").write_text("\n\n".join(stanzas) + "\n")
    run("umoci", "repack", "--image", f"{image}:notz", str(bundle))
    return image


def raw_digest(transport_ref: str, *flags: str) -> str:
    raw = subprocess.run(
        ["skopeo", "inspect", *flags, "--raw", transport_ref], capture_output=True, check=True
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_umoci_layout_and_whiteouts(rootfs: Path, layout: Path) -> None:
    expected = dpkg_query(rootfs)
    base = open_inventory(f"oci:{layout}:base")
    assert rows(base) == expected
    assert base.image_digest == raw_digest(f"oci:{layout}:base")
    notz = open_inventory(f"oci:{layout}:notz")
    assert rows(notz) == {r for r in expected if r[0] != "tzdata"}
    assert notz.distro == Distro("debian", "12", "bookworm")
    assert len(json.loads((layout / "index.json").read_text())["manifests"]) == 2
    # The deletion really is a whiteout in the top layer (not a rewritten lower layer).
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", f"oci:{layout}:notz"], capture_output=True, check=True
        ).stdout
    )
    top = layout / "blobs" / "sha256" / manifest["layers"][-1]["digest"][7:]
    with tarfile.open(top) as tar:
        names = tar.getnames()
    assert any(n.rstrip("/").endswith("usr/share/doc/.wh.tzdata") for n in names), names[:20]


def test_oci_archive_and_zstd_copies(rootfs: Path, layout: Path, tmp_path: Path) -> None:
    expected = {r for r in dpkg_query(rootfs) if r[0] != "tzdata"}
    archive = tmp_path / "image.tar"
    run("skopeo", "copy", "-q", f"oci:{layout}:notz", f"oci-archive:{archive}")
    inv = open_inventory(str(archive))
    assert rows(inv) == expected
    assert inv.image_digest == raw_digest(f"oci-archive:{archive}")
    zstd = tmp_path / "zstd"
    run(
        "skopeo",
        "copy",
        "-q",
        "--dest-compress-format=zstd",
        "--dest-compress",
        f"oci:{layout}:notz",
        f"oci:{zstd}:z",
    )
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", f"oci:{zstd}:z"], capture_output=True, check=True
        ).stdout
    )
    assert all(layer["mediaType"].endswith("+zstd") for layer in manifest["layers"])
    assert rows(open_inventory(f"oci:{zstd}:z")) == expected


def test_docker_archive(rootfs: Path, layout: Path, tmp_path: Path) -> None:
    """skopeo's docker-archive (what docker save and podman save write): uncompressed layer
    tars checked against the config's diff_ids, legacy per-layer links included."""
    archive = tmp_path / "docker.tar"
    run(
        "skopeo",
        "copy",
        "-q",
        f"oci:{layout}:notz",
        f"docker-archive:{archive}:inventory/rootfs:notz",
    )
    inv = open_inventory(str(archive))
    assert rows(inv) == {r for r in dpkg_query(rootfs) if r[0] != "tzdata"}
    assert inv.image_digest is None  # such archives hold no manifest
    assert inv.image_name == "docker.io/inventory/rootfs:notz"


@pytest.mark.parametrize("kind", ["docker-archive", "oci-archive"])
def test_an_archives_layers_are_read_one_at_a_time(
    layout: Path, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout directory's layers are read on every core; an archive's members share one
    file position, and two threads reading them at once read each other's bytes (a
    docker-archive scan once failed with "unexpected end of data")."""
    from zerocve.oci import reader

    archive = tmp_path / "image.tar"
    run("skopeo", "copy", "-q", f"oci:{layout}:notz", f"{kind}:{archive}:inventory/rootfs:notz")
    reading = 0
    most = 0
    original = reader._TarFile.open

    class Counted:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __enter__(self) -> object:
            nonlocal reading, most
            reading += 1
            most = max(most, reading)
            return self.inner.__enter__()  # type: ignore[attr-defined]

        def __exit__(self, *exc: object) -> None:
            nonlocal reading
            reading -= 1
            self.inner.__exit__(*exc)  # type: ignore[attr-defined]

    monkeypatch.setattr(reader._TarFile, "open", lambda self, name: Counted(original(self, name)))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # as many threads as there are layers
    inv = open_inventory(str(archive), cache_dir=tmp_path / "cache")
    assert len(inv.packages) > 0
    assert most == 1


def test_registry_reference(rootfs: Path, layout: Path, registry: Registry) -> None:
    reference = f"{registry.host}/inventory/rootfs:1"
    run(
        "skopeo",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        f"oci:{layout}:notz",
        f"docker://{reference}",
    )
    inv = open_inventory(reference)
    assert rows(inv) == {r for r in dpkg_query(rootfs) if r[0] != "tzdata"}
    assert inv.image_digest == raw_digest(f"docker://{reference}", "--tls-verify=false")
    assert inv.image_name == reference
    assert rows(open_inventory(f"docker://{reference}")) == rows(inv)
    # A single-platform image: a requested platform is checked against its config blob.
    assert rows(open_inventory(reference, platform="linux/amd64")) == rows(inv)
    with pytest.raises(ImageError, match="the image is for linux/amd64, not for linux/arm64"):
        open_inventory(reference, platform="linux/arm64")
    with pytest.raises(RegistryError) as caught:
        open_inventory(f"{registry.host}/inventory/rootfs:2")
    assert caught.value.diagnostics() == (
        f"{registry.host}/inventory/rootfs: get manifest 2: HTTP 404 "
        "(MANIFEST_UNKNOWN: manifest unknown)"
    )


def zerocve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    ("fmt", "schema"),
    [("spdx-json", "spdx-schema-2.3.json"), ("cyclonedx-json", "bom-1.6.schema.json")],
)
def test_sbom_cli_on_real_image(
    layout: Path, rootfs: Path, tmp_path: Path, fmt: str, schema: str
) -> None:
    out = tmp_path / "sbom.json"
    done = zerocve("sbom", f"oci:{layout}:base", "-o", fmt, "--file", str(out))
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    validate(document, schema)
    # The SBOM read back gives what dpkg says, sources included.
    assert rows(open_inventory(str(out))) == dpkg_query(rootfs)


def test_sbom_cli_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty-rootfs"
    empty.mkdir()
    out = tmp_path / "never.json"
    done = zerocve("sbom", str(empty), "--file", str(out))
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "no dpkg database (var/lib/dpkg/status or var/lib/dpkg/status.d) found" in done.stderr
    assert not out.exists() and list(tmp_path.glob(".never.json*")) == []
    done = zerocve("sbom", "no-such-image:1")
    assert done.returncode == 2
    assert "docker://no-such-image:1" in done.stderr
