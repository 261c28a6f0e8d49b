"""Debian release numbers and codenames: the one table every layer reads.

Users: os-release/debian_version parsing (images of stretch and older have no
VERSION_CODENAME; testing images only say ``trixie/sid``), SBOM purls (``distro=debian-12``),
OSV ecosystems (``Debian:12``) against tracker keys (``bookworm``), and the minimal
``/etc/os-release`` a build writes when base-files is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass

# Release number (os-release VERSION_ID, OSV "Debian:12") -> codename (tracker key,
# VERSION_CODENAME, suite name).
CODENAMES: dict[str, str] = {
    "7": "wheezy",
    "8": "jessie",
    "9": "stretch",
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
    "15": "duke",
}

# Codename -> release number.
VERSION_IDS: dict[str, str] = {name: number for number, name in CODENAMES.items()}



@dataclass(frozen=True)
class DebianRelease:
    """The Debian release a repository serves: what an image's /etc/os-release names."""

    codename: str  # "bookworm"
    version_id: str  # "12"


def debian_release(codename: str | None, version: str | None) -> DebianRelease | None:
    """The release a Release file's Codename (or Suite) and Version name: ``bookworm`` or
    ``bookworm-security`` with ``12.7`` give bookworm/12; a suite alias such as ``stable``
    is read through the Version. None when neither is a Debian release zerocve knows."""
    base = (codename or "").split("-")[0].split("/")[0]
    if base in VERSION_IDS:
        return DebianRelease(base, VERSION_IDS[base])
    major = (version or "").split(".")[0]
    if major in CODENAMES:
        return DebianRelease(CODENAMES[major], major)
    return None


__all__ = ["CODENAMES", "VERSION_IDS", "DebianRelease", "debian_release"]
