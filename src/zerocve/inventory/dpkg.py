"""Release files, deb822 text (copyright files) and binary → source names: no I/O here.

The dpkg status file itself is read by ``zerocve.inventory.status``, exactly as dpkg reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from zerocve.debian.model import InstalledPackage
from zerocve.debian.releases import CODENAMES, VERSION_IDS
from zerocve.inventory.model import Distro

INSTALLED = "install ok installed"

_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*):(.*)")
_SOURCE = re.compile(r"([a-z0-9][a-z0-9+.-]+)(?:\s*\(\s*([^()\s]+)\s*\))?")


def stanzas(text: str) -> Iterator[list[str]]:
    """Split deb822 text into stanzas (lists of lines), on blank lines."""
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            yield current
            current = []
    if current:
        yield current


def fields(lines: list[str], *, continuations: bool = True) -> dict[str, str] | None:
    """One stanza's fields (names lowercased), or None when a line is neither ``Name: value``
    nor a continuation line. Without ``continuations`` a field keeps its first line only
    (a copyright file's license texts are long, and only their names are needed)."""
    result: dict[str, list[str]] = {}
    name: str | None = None
    for line in lines:
        if line[0] in " \t":
            if name is None:
                return None
            if continuations:
                result[name].append(line.strip())
            continue
        if line[0] == "#":
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            return None
        name = match.group(1).lower()
        result[name] = [match.group(2).strip()]
    return {key: "\n".join(value) for key, value in result.items()}


def parse_source(field: str, binary: str, binary_version: str) -> tuple[str, str] | None:
    """``Source: openssl (3.0.11-1~deb12u2)`` → ``("openssl", "3.0.11-1~deb12u2")``; with no
    version in parentheses the source has the binary's version (binNMUs such as ``+b1`` are
    exactly the case where they differ); with no field the source is the binary itself."""
    if not field:
        return binary, binary_version
    match = _SOURCE.fullmatch(field.strip())
    if match is None:
        return None
    return match.group(1), match.group(2) or binary_version


def deduplicate(packages: Iterable[InstalledPackage]) -> tuple[InstalledPackage, ...]:
    """One package per (name, architecture), the first seen winning, sorted by name and arch
    (a package listed in both ``status`` and ``status.d`` is the same installed package)."""
    seen: dict[tuple[str, str], InstalledPackage] = {}
    for package in packages:
        seen.setdefault((package.name, package.architecture), package)
    return tuple(seen[key] for key in sorted(seen))


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` pairs of os-release(5), shell quoting removed."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            value = re.sub(r"\\([\"'$`\\])", r"\1", value)
        result[key.strip()] = value
    return result


def distro(os_release: str | None, debian_version: str | None) -> Distro | None:
    """The release from ``etc/os-release`` (ID, VERSION_ID, VERSION_CODENAME), completed or
    replaced by ``etc/debian_version`` (``12.4``, or ``trixie/sid`` on testing, where
    os-release has no VERSION_ID)."""
    info = parse_os_release(os_release) if os_release else {}
    distro_id = info.get("ID", "").lower()
    version_id = info.get("VERSION_ID", "")
    codename = info.get("VERSION_CODENAME", "")
    debian = (debian_version or "").strip()
    if debian and distro_id in ("", "debian"):
        distro_id = "debian"
        major = debian.split(".", 1)[0]
        if not version_id and major.isdigit():
            version_id = major
        elif not version_id and "/" in debian and not codename:
            codename = debian.split("/", 1)[0]
    if not distro_id:
        return None
    if not codename and distro_id == "debian":
        codename = CODENAMES.get(version_id, "")
    if not version_id and distro_id == "debian":
        version_id = VERSION_IDS.get(codename, "")
    return Distro(id=distro_id, version_id=version_id, codename=codename)


def named_distro(text: str) -> Distro:
    """The release a user names instead of the target's os-release: ``debian:12`` or
    ``debian:bookworm``. ValueError on anything else."""
    distro_id, colon, release = text.strip().lower().partition(":")
    if distro_id != "debian" or not colon or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", release):
        raise ValueError(f"{text!r}: expected debian:NUMBER or debian:CODENAME (e.g. debian:12)")
    if release.split(".")[0].isdigit():
        number = release.split(".")[0]
        return Distro("debian", number, CODENAMES.get(number, ""))
    return Distro("debian", VERSION_IDS.get(release, ""), release)


__all__ = [
    "INSTALLED",
    "deduplicate",
    "distro",
    "fields",
    "named_distro",
    "parse_os_release",
    "parse_source",
    "stanzas",
]
