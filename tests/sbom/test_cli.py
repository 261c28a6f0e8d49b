"""`zerocve sbom`: formats, --file written atomically, --lock checksums, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.schemas import validate
from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Distro, Inventory
from zerocve.lock import ArchLock, Lock, LockedPackage, dumps_lock
from zerocve.sbom import lock_checksums

SHA_A, SHA_B = "a" * 64, "b" * 64


def locked(name: str, version: str, sha256: str) -> LockedPackage:
    return LockedPackage(
        name=name,
        version=version,
        architecture="amd64",
        source=name,
        source_version=version,
        uri="file:///srv/repo",
        suite="bookworm",
        component="main",
        filename=f"pool/{name}_{version}_amd64.deb",
        size=1,
        sha256=sha256,
    )


LOCK = Lock(
    spec="sha256:" + "0" * 64,
    source_date_epoch=1_700_000_000,
    archs={
        "amd64": ArchLock(
            indices=[],
            packages=[locked("bash", "5.2.15-2+b7", SHA_A), locked("dash", "0.5.12-2", SHA_B)],
        ),
    },
)


def test_lock_checksums_only_for_the_locked_versions() -> None:
    inventory = Inventory(
        "x",
        Distro("debian", "12", "bookworm"),
        (
            InstalledPackage("bash", "5.2.15-2+b7", "amd64", "bash", "5.2.15-2"),
            InstalledPackage("dash", "0.5.12-1", "amd64", "dash", "0.5.12-1"),  # not the locked one
        ),
    )
    assert lock_checksums(LOCK, inventory) == {"bash:amd64": SHA_A}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n")
    (root / "var/lib/dpkg/status").write_text(
        "Package: bash\nStatus: install ok installed\nArchitecture: amd64\n"
        "Source: bash (5.2.15-2)\nVersion: 5.2.15-2+b7\n\n"
        "Package: dash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.5.12-2\n"
    )
    return root


def zerocve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "SOURCE_DATE_EPOCH": "1700000000"}
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_stdout_and_file_with_lock(rootfs: Path, tmp_path: Path) -> None:
    lock = tmp_path / "image.lock.json"
    lock.write_text(dumps_lock(LOCK))
    out = tmp_path / "bom.cdx.json"
    done = zerocve(
        "sbom", f"dir:{rootfs}", "-o", "cyclonedx-json", "--lock", str(lock), "--file", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "wrote cyclonedx-json SBOM of 2 packages" in done.stderr
    document = json.loads(out.read_text())
    validate(document, "bom-1.6.schema.json")
    hashes = {c["name"]: c.get("hashes") for c in document["components"]}
    assert hashes == {
        "bash": [{"alg": "SHA-256", "content": SHA_A}],
        "dash": [{"alg": "SHA-256", "content": SHA_B}],
    }
    printed = zerocve("sbom", str(rootfs))  # SPDX to stdout by default
    assert printed.returncode == 0, printed.stderr
    validate(json.loads(printed.stdout), "spdx-schema-2.3.json")
    assert zerocve("sbom", str(rootfs)).stdout == printed.stdout  # SOURCE_DATE_EPOCH fixed


def test_errors(rootfs: Path, tmp_path: Path) -> None:
    bad_lock = tmp_path / "bad.lock.json"
    bad_lock.write_text("{")
    out = tmp_path / "out.json"
    previous = '{"spdxVersion": "SPDX-2.3", "name": "previous"}'  # an earlier SBOM there
    out.write_text(previous)
    done = zerocve("sbom", str(rootfs), "--lock", str(bad_lock), "--file", str(out))
    assert done.returncode == 3
    assert f"{bad_lock}:1:2: invalid JSON" in done.stderr
    assert out.read_text() == previous  # nothing half-written, the old file kept
    done = zerocve("sbom", str(rootfs), "-o", "swid")
    assert done.returncode == 2
    done = zerocve("sbom", str(rootfs), "--platform", "amd64")
    assert done.returncode == 2 and "expected OS/ARCH[/VARIANT]" in done.stderr
    done = zerocve("sbom", str(rootfs), "--platform", "linux/arm64")
    assert done.returncode == 2
    assert "--platform chooses among images; this is a root filesystem" in done.stderr
