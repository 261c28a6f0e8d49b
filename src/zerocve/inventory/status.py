"""The dpkg database as dpkg reads it, from text: no I/O here.

Two layouts hold installed packages:

- ``var/lib/dpkg/status``: one stanza per package that dpkg knows. The packages scanned are
  exactly those ``dpkg-query -W`` lists: every package whose status is not ``not-installed``
  (held, half-configured, unpacked, config-files... all still have files or a version on the
  system). A file dpkg would refuse to parse is refused here too, with one line naming the
  file and package: skipping a stanza would hide a package from the scan.
- ``var/lib/dpkg/status.d/<name>``: distroless images (and zerocve's peers) write one file per
  package, without a ``Status`` field since no dpkg ever ran; the ``<name>.md5sums`` files
  beside them are not stanzas.

The rules are dpkg's own (lib/dpkg/parse.c, fields.c, parsehelp.c of dpkg 1.21), checked
against ``dpkg-query`` itself in tests/hostile/test_status_file.py. zerocve is stricter in
one way: a listed package must have a Version, an Architecture and a Source it can read, and
no obsolete field dpkg folds into another (``Revision``), since it could not be matched
otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from zerocve.debian import version as dpkg_version
from zerocve.debian.model import InstalledPackage
from zerocve.debian.relations import parse_dependencies, parse_provides
from zerocve.errors import InventoryError
from zerocve.inventory.dpkg import parse_source

WANTS = ("unknown", "install", "hold", "deinstall", "purge")
EFLAGS = ("ok", "reinstreq")
STATES = (
    "not-installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "installed",
)

# dpkg's pkg_name_is_invalid: an alphanumeric first, then alphanumerics and -+._ (dpkg folds
# the name to lower case).
_DPKG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
# Policy §5.6.1: lowercase letters, digits, + - . ; at least two characters.
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
_SPACE = " \t\n\r\v\f"  # C's isspace in the "C" locale, as dpkg tests it
_SPACE_CHARS = tuple(_SPACE)
_HAS_SPACE = re.compile(f"[{re.escape(_SPACE)}]")
_INT_MAX = 2**31 - 1
_DEPENDENCY_FIELDS = (
    "depends", "pre-depends", "recommends", "suggests", "breaks", "conflicts", "enhances",
    "replaces",
)
_BOOLEAN = ("yes", "no")
_MULTI_ARCH = ("no", "same", "allowed", "foreign")
_PRIORITIES = ("required", "important", "standard", "optional", "extra", "unknown")
# dpkg folds these into Version (Revision) or other fields: zerocve would read another
# version than dpkg, so it refuses them instead.
_OBSOLETE = ("revision", "package-revision", "package_revision", "recommended", "optional",
             "class")


@dataclass(frozen=True)
class _Stanza:
    line: int  # where it starts, 1-based, for messages
    fields: dict[str, str]  # lowercased name -> value, continuation lines joined by \n


class _Refused(ValueError):
    """What dpkg would say about a stanza (or, with ``line``, about the file's syntax); the
    caller adds the file and package."""

    def __init__(
        self, message: str, line: int = 0, package: str = "", *, dpkg_refuses: bool = True
    ) -> None:
        super().__init__(message)
        self.line = line
        self.package = package
        self.outcome = (
            "dpkg would refuse this file, so it cannot be scanned"
            if dpkg_refuses
            else "zerocve could not match this package, so the file cannot be scanned"
        )


def _package_named(lines: list[str], start: int) -> str:
    """The Package field of the stanza starting at ``lines[start]``, for messages (read by
    index: a slice to the end of the file for every stanza made a parse quadratic)."""
    for index in range(start, len(lines)):
        line = lines[index]
        if not line:
            break
        name, colon, value = line.partition(":")
        if colon and name.strip(_SPACE).lower() == "package":
            return value.strip(_SPACE)
    return ""


def _deb822(text: str, *, final_newline: bool) -> Iterator[_Stanza]:
    """Stanzas as dpkg's parse_stanza reads them: lines end at ``\n`` only (a ``\r`` is
    trailing space), a line starting with whitespace continues the field above, only an
    empty line ends a stanza, field names are unique per stanza whatever their case.
    ``_Refused`` (with ``.line``) on what dpkg refuses."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    elif final_newline:
        raise _Refused("missing final newline", len(lines))
    index = 0
    while index < len(lines):
        if lines[index] == "":
            index += 1
            continue
        start = index + 1
        found: dict[str, str] = {}
        try:
            while index < len(lines) and lines[index] != "":
                line = lines[index]
                name, colon, value = line.partition(":")
                name = name.rstrip(_SPACE)
                if not name or name[0] in _SPACE:
                    message = "empty field name (a continuation line outside a field)"
                    raise _Refused(message, index + 1)
                if not colon or _HAS_SPACE.search(name):
                    message = f"field name {name!r} must be followed by a colon"
                    raise _Refused(message, index + 1)
                if name[0] == "-":
                    message = f"field name {name!r} cannot start with a hyphen"
                    raise _Refused(message, index + 1)
                if final_newline and index == len(lines) - 1 and not value.strip(_SPACE):
                    # dpkg reads past the newline for a value and finds the end of the file.
                    message = f"end of file before value of field {name!r}"
                    raise _Refused(message, index + 1)
                # Continuation lines keep their leading space (Conffiles is line-structured).
                parts = [value.strip(_SPACE)]
                index += 1
                while index < len(lines) and lines[index][:1] in _SPACE_CHARS and lines[index]:
                    parts.append(lines[index].rstrip(_SPACE))
                    index += 1
                key = name.lower()
                if key in found:
                    raise _Refused(f"duplicate value for {name!r} field", index)
                if len(key) < 2:
                    message = f"user-defined field name {name!r} too short"
                    raise _Refused(message, index)
                found[key] = "\n".join(parts).rstrip(_SPACE)
        except _Refused as e:
            e.package = _package_named(lines, start - 1)  # for the message: only on failure
            raise
        yield _Stanza(start, found)


def version_problem(text: str) -> str | None:
    """What dpkg's parseversion refuses in ``text`` (None when it reads it), and what
    zerocve's own version order cannot compare: both would make a match meaningless."""
    value = text.strip(" \t")
    if not value:
        return "version string is empty"
    if any(c in " \t" for c in value):
        return "version string has embedded spaces"
    if ":" in value:
        epoch, _, rest = value.partition(":")
        if not epoch:
            return "epoch in version is empty"
        if not (epoch.isascii() and epoch.isdigit()):
            return "epoch in version is not number"
        if len(epoch) > 10 or int(epoch) > _INT_MAX:
            return "epoch in version is too big"
        if not rest:
            return "nothing after colon in version number"
    else:
        rest = value
    upstream, hyphen, revision = rest.rpartition("-")
    if hyphen and not revision:
        return "revision number is empty"
    if hyphen and not upstream:
        return "version number is empty"
    try:
        dpkg_version.parse(value)
    except ValueError as e:
        return str(e)
    return None


def _status(value: str | None, require_status: bool) -> tuple[str, str, str]:
    """(want, eflag, status); a stanza without Status is a selection dpkg does not list
    (status.d files carry none: there, no Status means installed)."""
    if value is None:
        return ("install", "ok", "not-installed" if require_status else "installed")
    words = value.lower().split()
    tables = (WANTS, EFLAGS, STATES)
    for position, (word, table) in enumerate(zip(words, tables, strict=False)):
        if word not in table:
            which = ("first (want)", "second (error)", "third (status)")[position]
            raise _Refused(f"{which} word in 'Status' field has invalid value {word!r}")
    if len(words) != 3:
        raise _Refused(f"'Status' field {value!r} must be three words (want, error, status)")
    return words[0], words[1], words[2]


def _check_status_rules(f: dict[str, str], state: str) -> None:
    """dpkg's pkg_parse_verify, the rules that refuse a stanza."""
    listed = state not in ("not-installed", "half-installed")
    if listed and "version" not in f:
        raise _Refused("missing 'Version' field")
    for name in ("version", "config-version"):
        if name in f and (problem := version_problem(f[name])):
            raise _Refused(f"{name.title()!r} field value {f[name]!r}: {problem}")
    if "config-version" in f and state in ("installed", "not-installed", "triggers-pending"):
        raise _Refused(f"'Config-Version' field present for a package with status {state}")
    awaited, pending = bool(f.get("triggers-awaited")), bool(f.get("triggers-pending"))
    if awaited and state not in ("half-installed", "unpacked", "half-configured",
                                 "triggers-awaited"):
        raise _Refused(f"package has status {state} but triggers are awaited")
    if state == "triggers-awaited" and not awaited:
        raise _Refused(f"package has status {state} but no triggers awaited")
    if pending and state not in ("triggers-pending", "triggers-awaited"):
        raise _Refused(f"package has status {state} but triggers are pending")
    if state == "triggers-pending" and not pending:
        raise _Refused(f"package has status {state} but no triggers pending")


def _check_fields(f: dict[str, str], arch: str) -> None:
    """Field values dpkg refuses whatever the status."""
    for name in ("essential", "protected"):
        if f.get(name, "no").lower() not in (*_BOOLEAN, ""):
            raise _Refused(f"boolean (yes/no) {name.title()!r} field has invalid value "
                           f"{f[name]!r}")
    if obsolete := [name for name in _OBSOLETE if name in f]:
        message = f"obsolete field {obsolete[0].title()!r} (dpkg folds it into another)"
        raise _Refused(message, dpkg_refuses=False)
    priority = f.get("priority", "").lower()
    known = next((p for p in _PRIORITIES if priority.startswith(p)), None)
    if known is not None and priority[len(known) :].strip(_SPACE):
        raise _Refused(f"'Priority' field {f['priority']!r} has trailing junk")
    pending = f.get("triggers-pending", "").split()
    if any(any(c <= " " or c >= "\x7f" for c in t) for t in pending):
        raise _Refused("invalid pending trigger name in 'Triggers-Pending'")
    awaited = f.get("triggers-awaited", "").split()
    if any(not _DPKG_NAME.fullmatch(a.split(":", 1)[0]) for a in awaited):
        raise _Refused("invalid package name in 'Triggers-Awaited'")
    if len(set(pending)) < len(pending) or len(set(awaited)) < len(awaited):
        raise _Refused("duplicate trigger in 'Triggers-Pending' or 'Triggers-Awaited'")
    multi_arch = f.get("multi-arch", "no").lower() or "no"
    if multi_arch not in _MULTI_ARCH:
        raise _Refused(f"'Multi-Arch' field has invalid value {f['multi-arch']!r}")
    if multi_arch == "same" and arch in ("", "all"):
        raise _Refused(f"'Multi-Arch: same' on a package of architecture {arch or 'none'!r}")
    if "conffiles" in f and (problem := _conffiles_problem(f["conffiles"])):
        raise _Refused(f"'Conffiles' field: {problem}")
    try:
        for name in _DEPENDENCY_FIELDS:
            if name in f:
                parse_dependencies(f[name])
        if "provides" in f:
            parse_provides(f["provides"])
    except ValueError as e:
        raise _Refused(f"{e}") from None


def _last_word(body: str, end: int) -> tuple[str, int] | None:
    """dpkg's conffvalue_lastword: the word before ``end`` and where it starts, None when
    the line is malformed (no path before it, or nothing after the space)."""
    space = body.rfind(" ", 0, end)
    if space <= 0 or space >= end - 1:
        return None
    return body[space + 1 : end], space


def _conffiles_problem(value: str) -> str | None:
    """What dpkg's f_conffiles refuses: each line is `` PATH HASH [obsolete]
    [remove-on-upgrade]``."""
    for line in value.split("\n"):
        if not line:
            continue
        if line[0] != " ":
            return f"line starting with non-space {line[0]!r}"
        body = line[1:]
        word = _last_word(body, len(body))
        for flag in ("remove-on-upgrade", "obsolete"):
            if word is not None and word[0] == flag:
                word = _last_word(body, word[1])
        if word is None:
            return f"malformed line {line.strip()!r}"
        if not re.sub(r"^(?:/|\./)*", "", body[: word[1]]):
            return "root or empty directory listed as a conffile"
    return None


@dataclass(frozen=True)
class _Entry:
    """One parsed stanza: the package it lists (None: a selection dpkg does not list)."""

    name: str
    arch: str
    listed: bool
    multi_arch_same: bool
    package: InstalledPackage | None


def _entry(stanza: _Stanza, location: str, require_status: bool) -> _Entry:
    f = stanza.fields
    raw_name = f.get("package")
    if not raw_name:
        raise _Refused("missing 'Package' field")
    if not _DPKG_NAME.fullmatch(raw_name):
        raise _Refused(f"invalid package name {raw_name!r} in 'Package' field")
    name = raw_name.lower()
    _, _, state = _status(f.get("status"), require_status)
    arch = f.get("architecture", "")
    _check_status_rules(f, state)
    _check_fields(f, arch)
    same = f.get("multi-arch", "").lower() == "same"
    if state == "not-installed":
        return _Entry(name, arch, False, same, None)
    # dpkg lists the package from here on: zerocve must read what it needs to match it.
    version = f.get("version", "")
    if not version:  # half-installed may lack one: nothing to match, so no scan is honest
        raise _Refused(f"status {state} without a 'Version' field", dpkg_refuses=False)
    if not _ARCH.fullmatch(arch):
        raise _Refused(f"invalid or missing 'Architecture' {arch!r}", dpkg_refuses=False)
    if not _PACKAGE_NAME.fullmatch(name):
        raise _Refused(f"package name {name!r} is not a Debian package name", dpkg_refuses=False)
    source = parse_source(f.get("source", ""), name, version)
    if source is None or version_problem(source[1]):
        raise _Refused(f"invalid 'Source' field {f.get('source')!r}", dpkg_refuses=False)
    package = InstalledPackage(
        name=name,
        version=version,
        architecture=arch,
        source=source[0],
        source_version=source[1],
        location=location,
    )
    return _Entry(name, arch, True, same, package)


def parse_status(
    text: str, *, location: str, require_status: bool = True
) -> tuple[InstalledPackage, ...]:
    """The packages ``dpkg-query -W`` lists from a ``status`` file (``require_status=True``),
    or those of a ``status.d`` file (``False``: no Status field, no final newline needed).
    ``location`` names the file in messages and reports. A later stanza for the same
    (package, architecture) replaces an earlier one, as in dpkg. InventoryError, one line
    naming the file and package, for anything dpkg would refuse."""
    slots: dict[str, dict[str, _Entry]] = {}
    try:
        for stanza in _deb822(text, final_newline=require_status):
            try:
                entry = _entry(stanza, location, require_status)
            except _Refused as e:
                name = stanza.fields.get("package", "?")
                raise InventoryError(
                    f"{location}: package {name!r} (line {stanza.line}): {e}; {e.outcome}"
                ) from None
            instances = slots.setdefault(entry.name, {})
            if entry.listed:
                # dpkg's parse_find_set_slot: the listed instances of one name, this one
                # included, are all Multi-Arch: same, or there is only one.
                group = [entry, *(e for e in instances.values() if e.listed)]
                single = sum(not e.multi_arch_same for e in group)
                if single > 1 or (single and len(group) > single):
                    raise InventoryError(
                        f"{location}: package {entry.name!r} (line {stanza.line}): listed "
                        f"{len(group)} times, not all Multi-Arch: same; dpkg would refuse "
                        "this file, so it cannot be scanned"
                    )
            instances[entry.arch] = entry
    except _Refused as e:
        where = f"package {e.package!r} (line {e.line})" if e.package else f"line {e.line}"
        raise InventoryError(
            f"{location}: {where}: {e}; dpkg would refuse this file, so it cannot be scanned"
        ) from None
    return tuple(
        e.package for by_arch in slots.values() for e in by_arch.values() if e.package is not None
    )


__all__ = ["EFLAGS", "STATES", "WANTS", "parse_status", "version_problem"]
