"""The scanner fails closed on the dpkg database: the packages zerocve scans are exactly those
``dpkg-query -W`` lists from the same status file, for every Status dpkg knows, and a file
dpkg refuses is refused (exit 3, one line naming the file and package), never skipped.

dpkg itself is the oracle: the combinations are generated and each is run through
``dpkg-query --admindir``; nothing here states by hand what dpkg does."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_zerocve

from zerocve.errors import InventoryError
from zerocve.inventory.status import parse_status

HOST_STATUS = Path("/var/lib/dpkg/status")
# The words of dpkg-query(1)'s "Package states" and "Package selection states", plus one
# dpkg does not know in each place.
WANT = ["unknown", "install", "hold", "deinstall", "purge", "keep"]
EFLAG = ["ok", "reinstreq", "hold-reinstreq"]
STATUS = [
    "not-installed", "config-files", "half-installed", "unpacked", "half-configured",
    "triggers-awaited", "triggers-pending", "installed", "removed",
]
TRIGGERS = ["", "Triggers-Pending: ldconfig\n", "Triggers-Awaited: other\n"]
CONFIG_VERSION = ["", "Config-Version: 0.9-1\n"]
OTHER = (
    "Package: other\nStatus: install ok triggers-pending\nTriggers-Pending: ldconfig\n"
    "Maintainer: m <m@example.org>\nDescription: o\nArchitecture: all\nVersion: 2\n"
)


def dpkg_query(tmp: Path, status: str | bytes) -> set[str] | None:
    """What dpkg-query -W lists from ``status`` ("name:arch version"), None when it refuses."""
    admin = tmp / "admin"
    (admin / "updates").mkdir(parents=True, exist_ok=True)
    (admin / "info").mkdir(exist_ok=True)
    (admin / "status").write_bytes(status.encode() if isinstance(status, str) else status)
    done = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f=${Package}:${Architecture} ${Version}\n"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        assert "error" in done.stderr, done.stderr
        return None
    return set(done.stdout.splitlines())


def zerocve_reads(status: str) -> set[str] | None:
    try:
        packages = parse_status(status, location="/var/lib/dpkg/status")
    except InventoryError as e:
        assert "\n" not in str(e) and "/var/lib/dpkg/status" in str(e)
        return None
    return {f"{p.name}:{p.architecture} {p.version}" for p in packages}


def test_every_status_combination_matches_dpkg(tmp_path: Path) -> None:
    compared = refused = 0
    for want, eflag, state, trigger, config in itertools.product(
        WANT, EFLAG, STATUS, TRIGGERS, CONFIG_VERSION
    ):
        text = (
            f"Package: foo\nStatus: {want} {eflag} {state}\nMaintainer: m <m@example.org>\n"
            f"Description: d\nArchitecture: amd64\nSource: foo-src (1.0-1)\nVersion: 1.0-1+b1\n"
            f"{trigger}{config}\n{OTHER}"
        )
        expected = dpkg_query(tmp_path, text)
        assert zerocve_reads(text) == expected, text
        compared += 1
        refused += expected is None
    assert compared == 6 * 3 * 9 * 3 * 2
    assert 0 < refused < compared  # both outcomes were exercised


def test_a_held_package_is_scanned(tmp_path: Path, rootfs, tracker_db: Path) -> None:
    # `apt-mark hold openssl` gives "hold ok installed": it used to be scanned as 0 packages.
    root = rootfs(
        "Package: libssl3\nStatus: hold ok installed\nArchitecture: amd64\nSource: openssl\n"
        "Version: 3.0.11-1~deb12u2\n\n"
        "Package: openssl\nStatus: install ok half-configured\nArchitecture: amd64\n"
        "Version: 3.0.11-1~deb12u2\nConfig-Version: 3.0.9-1\n"
    )
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--fail-on", "fixed")
    assert done.returncode == 1, done.stderr
    assert "2 packages" in done.stdout and "CVE-2024-0727" in done.stdout


def _stanzas(text: str, count: int) -> list[str]:
    return [s + "\n" for s in text.split("\n\n")[:count]]


# Each turns one field line into the lines that replace it.
MUTATIONS: dict[str, Callable[[str], list[str]]] = {
    "duplicate": lambda line: [line, line],
    "duplicate in other case": lambda line: [line, line.swapcase()],
    "drop": lambda line: [],
    "unbalanced parenthesis": lambda line: [line + " (1.0"],
    "no colon": lambda line: [line.replace(":", "", 1)],
    "continuation first": lambda line: [" " + line],
    "huge epoch": lambda line: [re.sub(r": (\S)", r": 99999999999:\1", line, count=1)],
    "empty value": lambda line: [line.split(":", 1)[0] + ":"],
}
# Where zerocve is deliberately stricter than dpkg: a package it could not match (no
# Architecture, an unreadable Source, an obsolete Revision field dpkg folds into Version).
STRICTER = "zerocve could not match this package"


@pytest.mark.skipif(not HOST_STATUS.is_file(), reason="no dpkg status on this host")
def test_mutated_real_stanzas_match_dpkg(tmp_path: Path) -> None:
    """Every field of real stanzas (this host's dpkg status), each mutated in every way above:
    zerocve refuses what dpkg refuses and otherwise lists what dpkg lists."""
    real = HOST_STATUS.read_text()
    assert zerocve_reads(real) == dpkg_query(tmp_path, real)
    tried = refused = 0
    for stanza in _stanzas(real, 12):
        lines = [line for line in stanza.split("\n") if line]
        for (label, mutate), index in itertools.product(MUTATIONS.items(), range(len(lines))):
            if lines[index].startswith(" "):
                continue
            text = "\n".join([*lines[:index], *mutate(lines[index]), *lines[index + 1 :]]) + "\n"
            expected = dpkg_query(tmp_path, text)
            try:
                got: set[str] | str | None = {
                    f"{p.name}:{p.architecture} {p.version}"
                    for p in parse_status(text, location="status")
                }
            except InventoryError as e:
                got = None if expected is None else str(e)
            if isinstance(got, str):
                assert STRICTER in got, (label, text, got)
            else:
                assert got == expected, (label, text)
            tried += 1
            refused += expected is None
    assert tried > 300 and refused > 100


@pytest.mark.parametrize(
    ("label", "stanza", "named"),
    [
        ("malformed Source", "Source: openssl (3.0.2\nVersion: 3.0.11-1~deb12u2\n", "Source"),
        ("duplicate Version", "Version: 3.0.11-1~deb12u2\nversion: 3.0.15-1\n", "duplicate"),
        ("missing Version", "", "Version"),
        ("huge epoch", "Version: 4294967296:1.0\n", "epoch"),
    ],
)
def test_refused_status_file_is_exit_3_naming_file_and_package(
    label: str, stanza: str, named: str, rootfs, tracker_db: Path
) -> None:
    root = rootfs(
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13\n\n"
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n" + stanza
    )
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), "--fail-on", "fixed")
    assert done.returncode == 3, (label, done.stderr)
    line = one_error_line(done)
    assert "/var/lib/dpkg/status" in line and "'libssl3'" in line and named in line, line
