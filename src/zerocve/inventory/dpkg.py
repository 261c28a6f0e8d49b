"""Read a dpkg database and the release files, as text: no I/O here.

Two layouts hold installed packages:

- ``var/lib/dpkg/status``: one stanza per package that dpkg knows, including removed ones
  kept for their conffiles; only ``Status: install ok installed`` counts as installed.
- ``var/lib/dpkg/status.d/<name>``: distroless images (and zerocve's peers) write one file per
  package, without a ``Status`` field since no dpkg ever ran; the ``<name>.md5sums`` files
  beside them are not stanzas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from zerocve.debian import version as dpkg_version
from zerocve.debian.model import InstalledPackage
from zerocve.debian.releases import CODENAMES, VERSION_IDS
from zerocve.inventory.model import Distro

INSTALLED = "install ok installed"

_FIELD = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*):(.*)")
# Policy §5.6.1: lowercase letters, digits, + - . ; at least two characters.
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_SOURCE = re.compile(r"([a-z0-9][a-z0-9+.-]+)(?:\s*\(\s*([^()\s]+)\s*\))?")


@dataclass(frozen=True)
class StatusParse:
    """What one status text yields: the installed packages, and how many stanzas were junk
    (unparseable lines, a missing or invalid Package/Version/Architecture)."""

    packages: tuple[InstalledPackage, ...]
    junk: int


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


def _valid_version(text: str) -> bool:
    try:
        dpkg_version.parse(text)
    except ValueError:
        return False
    return bool(text) and not any(c.isspace() for c in text)


def _package(
    stanza: dict[str, str], location: str, require_status: bool
) -> InstalledPackage | str | None:
    """A package, ``None`` for a stanza that is fine but not installed, or a reason string
    for junk."""
    status = stanza.get("status")
    if status is None and require_status:
        return "no Status field"
    if status is not None and " ".join(status.split()) != INSTALLED:
        return None
    name = stanza.get("package", "")
    version = stanza.get("version", "")
    arch = stanza.get("architecture", "")
    if not _PACKAGE_NAME.fullmatch(name):
        return f"invalid Package {name!r}"
    if not _valid_version(version):
        return f"{name}: invalid Version {version!r}"
    if not re.fullmatch(r"[a-z0-9-]+", arch):
        return f"{name}: invalid Architecture {arch!r}"
    source = parse_source(stanza.get("source", ""), name, version)
    if source is None or not _valid_version(source[1]):
        return f"{name}: invalid Source {stanza.get('source')!r}"
    return InstalledPackage(
        name=name,
        version=version,
        architecture=arch,
        source=source[0],
        source_version=source[1],
        location=location,
    )


def parse_status(text: str, *, location: str, require_status: bool = True) -> StatusParse:
    """Installed packages in a ``status`` file (``require_status=True``) or a ``status.d``
    file (``False``: distroless files carry no Status field). ``location`` names the file,
    for reports. Packages come out in file order; callers deduplicate."""
    packages: list[InstalledPackage] = []
    junk = 0
    for lines in stanzas(text):
        parsed = fields(lines)
        result = (
            "unparseable line" if parsed is None else _package(parsed, location, require_status)
        )
        if isinstance(result, InstalledPackage):
            packages.append(result)
        elif isinstance(result, str):
            junk += 1
    return StatusParse(tuple(packages), junk)


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


__all__ = [
    "INSTALLED",
    "StatusParse",
    "deduplicate",
    "distro",
    "fields",
    "parse_os_release",
    "parse_source",
    "parse_status",
    "stanzas",
]
