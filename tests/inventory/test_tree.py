"""A root filesystem on the host: links resolve inside it, never on the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zerocve.errors import InventoryError
from zerocve.inventory import open_inventory
from zerocve.inventory.tree import DirectoryTree

STATUS = b"Package: inside\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr/lib").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "srv/db").mkdir(parents=True)
    (root / "var/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text("ID=debian\nVERSION_ID=11\n")
    # Absolute links: on the host they would reach the host's files.
    os.symlink("/usr/lib/os-release", root / "etc/os-release")
    os.symlink("/etc/hostname", root / "etc/debian_version")  # on the host, not in the root
    (root / "srv/db/status").write_bytes(STATUS)
    os.symlink("../../../../../../../srv/db", root / "var/lib/dpkg")
    return root


def test_links_stay_inside_the_root(root: Path) -> None:
    tree = DirectoryTree(root)
    assert tree.resolve("etc/os-release") == "usr/lib/os-release"
    assert tree.resolve("var/lib/dpkg/status") == "srv/db/status"
    assert tree.read("etc/debian_version") is None  # the host's file is never read
    inv = open_inventory(str(root))
    assert [p.name for p in inv.packages] == ["inside"]
    assert inv.distro is not None and (inv.distro.version_id, inv.distro.codename) == (
        "11",
        "bullseye",
    )


def test_directory_named_like_a_file_is_not_read(root: Path) -> None:
    (root / "srv/db/status").unlink()
    (root / "srv/db/status").mkdir()
    with pytest.raises(InventoryError, match="no dpkg database"):
        open_inventory(str(root))


def test_loop(root: Path) -> None:
    os.symlink("b", root / "etc/a")
    os.symlink("a", root / "etc/b")
    with pytest.raises(InventoryError, match="too many symlinks resolving /etc/a"):
        DirectoryTree(root).read("etc/a")


def test_status_d_only(root: Path) -> None:
    (root / "var/lib/dpkg").unlink()
    (root / "var/lib/dpkg/status.d").mkdir(parents=True)
    (root / "var/lib/dpkg/status.d/base").write_bytes(
        b"Package: base-files\nVersion: 12.4+deb12u9\nArchitecture: amd64\n"
    )
    (root / "var/lib/dpkg/status.d/base.md5sums").write_bytes(b"abc  etc/issue\n")
    (root / "var/lib/dpkg/status.d/libssl3").write_bytes(
        b"Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nSource: openssl\n"
    )
    inv = open_inventory(f"dir:{root}")
    assert [(p.name, p.source, p.location) for p in inv.packages] == [
        ("base-files", "base-files", "/var/lib/dpkg/status.d/base"),
        ("libssl3", "openssl", "/var/lib/dpkg/status.d/libssl3"),
    ]
