"""A release zerocve has no advisory data for is an error (exit 3), never "0 findings",
unless the user names the release with --distro."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_zerocve

# libssl3 from bookworm's OpenSSL of late 2023: the tracker fixture has fixed CVEs for it.
STATUS = (
    "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\n"
    "Version: 3.0.11-1~deb12u2\n"
)


@pytest.mark.parametrize(
    "os_release",
    [
        "ID=debian\nVERSION_ID=99\n",  # a number no feed covers
        "ID=debian\nVERSION_ID=\"14\"\nVERSION_CODENAME=forky\n",  # known, but no data yet
        "ID=debian\nVERSION_CODENAME=bookwrom\n",  # a typo
    ],
)
def test_release_without_data_is_exit_3(os_release: str, rootfs, tracker_db: Path) -> None:
    root = rootfs(STATUS, os_release=os_release)
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--fail-on", "fixed")
    assert done.returncode == 3, done.stdout + done.stderr
    line = one_error_line(done)
    assert "advisory DB has no data for Debian" in line and "--distro" in line
    assert done.stdout == ""


def test_named_release_is_scanned(rootfs, tracker_db: Path) -> None:
    root = rootfs(STATUS, os_release="ID=debian\nVERSION_ID=99\n")
    for release in ("debian:12", "debian:bookworm"):
        done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--fail-on", "fixed",
                           "--distro", release)
        assert done.returncode == 1, done.stderr
        assert "debian 12 (bookworm)" in done.stdout and "CVE-2024-0727" in done.stdout


def test_named_release_without_data_is_still_an_error(rootfs, tracker_db: Path) -> None:
    root = rootfs(STATUS)
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--distro", "debian:99")
    assert done.returncode == 3
    assert "no data for Debian 99" in one_error_line(done)


@pytest.mark.parametrize("value", ["ubuntu:22.04", "12", "debian:", "debian:../12"])
def test_malformed_distro_option_is_a_usage_error(value: str, rootfs, tracker_db: Path) -> None:
    root = rootfs(STATUS)
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--distro", value)
    assert done.returncode == 2
    assert "--distro" in one_error_line(done)
