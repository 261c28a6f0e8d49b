"""Debian release numbers and codenames: the one table every layer reads.

Users: os-release/debian_version parsing (images of stretch and older have no
VERSION_CODENAME; testing images only say ``trixie/sid``), SBOM purls (``distro=debian-12``),
OSV ecosystems (``Debian:12``) against tracker keys (``bookworm``), and the minimal
``/etc/os-release`` a build writes when base-files is not installed.
"""

from __future__ import annotations

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

__all__ = ["CODENAMES", "VERSION_IDS"]
