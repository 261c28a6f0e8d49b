"""The host's own apt indices (``/var/lib/apt/lists``, filled by ``apt-get update``), read
with zerocve's own Packages parser: tens of thousands of real stanzas to test against."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest

from zerocve.debian.index import parse_packages
from zerocve.debian.model import BinaryPackage, Origin

LISTS = Path("/var/lib/apt/lists")


@functools.cache
def native_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def list_files(arch: str) -> list[tuple[Path, Origin]]:
    """The Packages lists of ``arch`` (and ``all``), with the origin their name encodes:
    ``HOST_PATH_dists_SUITE_COMPONENT_binary-ARCH_Packages[.lz4|.xz|.gz]``."""
    found = []
    for path in sorted(LISTS.glob("*_dists_*_Packages*")):
        host_path, _, rest = path.name.partition("_dists_")
        parts = rest.split("_")
        if len(parts) != 4 or parts[2] not in (f"binary-{arch}", "binary-all"):
            continue
        uri = "http://" + host_path.replace("_", "/")
        found.append((path, Origin(uri, parts[0], parts[1], arch)))
    return found


def read_list(path: Path) -> str:
    """A list file's text, whatever apt compressed it with (apt-helper knows them all)."""
    return subprocess.run(
        ["/usr/lib/apt/apt-helper", "cat-file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@functools.cache
def host_packages(arch: str) -> tuple[BinaryPackage, ...]:
    """Every package the host's apt lists offer for ``arch`` (empty when there are none)."""
    packages: list[BinaryPackage] = []
    for path, origin in list_files(arch):
        packages += parse_packages(read_list(path), origin, str(path))
    return tuple(packages)


def real_packages(request: pytest.FixtureRequest) -> tuple[BinaryPackage, ...]:
    """The host's packages, else (no apt lists) those of the signed test repository, whose
    indices apt-ftparchive made from real bookworm .debs."""
    packages = host_packages(native_arch())
    if packages:
        return packages
    repo = request.getfixturevalue("apt_repo")
    found: list[BinaryPackage] = []
    for index in sorted(repo.root.glob("dists/*/main/binary-*/Packages")):
        origin = Origin(repo.uri, index.parts[-4], "main", repo.arch)
        found += parse_packages(index.read_text(), origin, str(index))
    return tuple(found)
