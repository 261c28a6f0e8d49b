"""A two-platform image end to end, from real amd64 and arm64 .debs in the loopback repository:
lock, build an OCI image index, then checked by independent tools (skopeo, umoci, dpkg-query)
and by the ELF headers of what was unpacked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.aptrepo import STATIC_PACKAGES
from support.schemas import validate

INDEX = "application/vnd.oci.image.index.v1+json"
# ELF e_machine of each Debian architecture.
MACHINES = {"amd64": 62, "arm64": 183}
PLATFORMS = {"amd64": ("amd64", None), "arm64": ("arm64", "v8")}


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file, None for anything else."""
    with path.open("rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def elf_files(root: Path) -> dict[str, int]:
    """Every regular ELF file under ``root`` (symlinks not followed) and its e_machine."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            machine = elf_machine(path)
            if machine is not None:
                found[str(path.relative_to(root))] = machine
    return found


@pytest.mark.slow
def test_amd64_and_arm64_image_index(spec_file, tmp_path: Path) -> None:
    spec = spec_file(list(STATIC_PACKAGES), archs=["amd64", "arm64"])
    run(sys.executable, "-m", "zerocve", "lock", str(spec))
    lock = json.loads(spec.with_suffix(".lock.json").read_text())
    assert sorted(lock["archs"]) == ["amd64", "arm64"]
    locked = {
        arch: {p["name"]: p for p in lock["archs"][arch]["packages"]} for arch in ("amd64", "arm64")
    }
    packages = {
        arch: {name: p["architecture"] for name, p in found.items()}
        for arch, found in locked.items()
    }
    for arch, found in packages.items():
        assert found["base-files"] == arch
        assert found["libc6"] == arch
        assert found["tzdata"] == "all"  # the same .deb for both
        assert set(found.values()) <= {arch, "all"}
    assert locked["amd64"]["tzdata"]["sha256"] == locked["arm64"]["tzdata"]["sha256"]
    assert set(packages["amd64"]) == set(packages["arm64"])

    out = tmp_path / "image"
    run(sys.executable, "-m", "zerocve", "build", str(spec), "-o", str(out), "--no-scan")

    index = json.loads(run("skopeo", "inspect", "--raw", f"oci:{out}"))
    assert index["mediaType"] == INDEX
    platforms = {
        (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant"))
        for m in index["manifests"]
    }
    assert platforms == {("linux", "amd64", None), ("linux", "arm64", "v8")}
    digests = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}

    for arch, (goarch, variant) in PLATFORMS.items():
        # umoci does not pick a platform out of an index: copy the one image out first.
        one = tmp_path / f"one-{arch}"
        override = ["--override-arch", goarch]
        if variant:
            override += ["--override-variant", variant]
        run("skopeo", "copy", "-q", *override, f"oci:{out}", f"oci:{one}:latest")
        config = json.loads(run("skopeo", "inspect", "--config", f"oci:{one}:latest"))
        assert config["architecture"] == goarch
        bundle = tmp_path / f"bundle-{arch}"
        run("umoci", "unpack", "--image", f"{one}:latest", str(bundle))
        rootfs = bundle / "rootfs"

        listed = run("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
                     "-f=${Package}:${Architecture}\\n").split()
        assert sorted(listed) == sorted(f"{n}:{a}" for n, a in packages[arch].items())
        assert f"base-files:{arch}" in listed

        elves = elf_files(rootfs)
        assert elves["usr/bin/openssl"] == MACHINES[arch]
        assert any(name.endswith("/libc.so.6") for name in elves)
        assert set(elves.values()) == {MACHINES[arch]}, "an ELF file of another architecture"

        # The SBOM beside the layout, one per platform, naming that platform's image.
        platform = "-".join(p for p in ("linux", goarch, variant) if p)
        sbom = json.loads(out.with_name(f"{out.name}.{platform}.spdx.json").read_text())
        validate(sbom, "spdx-schema-2.3.json")
        purls = [r["referenceLocator"] for p in sbom["packages"] for r in p.get("externalRefs", [])]
        assert any(purl.endswith(f"@{digests[goarch]}") for purl in purls)
        binaries = {
            p["name"]: p for p in sbom["packages"]
            if p.get("primaryPackagePurpose") not in ("SOURCE", "CONTAINER")
        }
        assert sorted(binaries) == sorted(packages[arch])
        base_files = binaries["base-files"]
        assert f"arch={arch}&" in base_files["externalRefs"][0]["referenceLocator"]
        assert {"algorithm": "SHA256", "checksumValue": locked[arch]["base-files"]["sha256"]} in (
            base_files["checksums"]
        )
    assert not out.with_name(f"{out.name}.spdx.json").exists()
