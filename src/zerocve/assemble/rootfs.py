"""The root file system as the packages lay it down: merged /usr, and the conflict rule.

Merged /usr (as bookworm's usrmerge): ``/bin``, ``/sbin`` and ``/lib`` are symlinks into
``usr/`` (and ``/lib32``, ``/lib64``, ``/libx32`` when a package ships files there); a package
entry under ``./bin/...`` is stored as ``usr/bin/...`` (its dpkg file list keeps the path as
shipped, as dpkg does on a merged system).

Conflict rule, applied in lock order (the order dpkg would unpack in does not matter for any
of the outcomes below):

* the same path with the same type and content (and mode and owner) in two packages: kept,
  each package's layer carries its copy (identical bytes, so the image sees one file);
* a directory in two packages: merged; the first package's mode and owner win (dpkg keeps an
  existing directory), and every layer writes the directory with those;
* anything else at one path (different content, file vs directory, file vs symlink...): a
  ``BuildError`` naming the path and both packages, unless one package declares ``Replaces``
  on the other (with a satisfied version), in which case the replacing package's entry wins
  and the other package's layer and file list drop the path, as dpkg does;
* an entry below a path another package made a symlink (or a file): a ``BuildError``, since
  it would land somewhere other than the path it names. Diversions are not applied (no
  maintainer script runs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from zerocve.debian.deb import DebControl, DebReader
from zerocve.debian.model import PackageRecord
from zerocve.debian.relations import RelationSyntaxError, parse_dependencies
from zerocve.debian.version import satisfies
from zerocve.errors import BuildError, PackageError
from zerocve.oci.layer import Entry, EntryKind, content_chunks, parents, same_content
from zerocve.path_filter import PathFilter

MERGED_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ALWAYS_LINKED = ("bin", "sbin", "lib")
KEEP_ALL = PathFilter(exclude=(), include=())


@dataclass(frozen=True)
class UnpackedPackage:
    """A package's control information and data entries, paths already merged into /usr."""

    record: PackageRecord
    control: DebControl
    entries: tuple[Entry, ...]  # archive order, canonical (merged /usr) paths, one per path
    shipped: tuple[tuple[str, str], ...]  # (path as shipped, canonical path), archive order
    conffiles: tuple[tuple[str, str], ...] = ()  # (/etc/path, md5 of the shipped content)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def key(self) -> str:
        """``name`` or ``name:arch`` as dpkg names the package's info files."""
        if self.control.get("Multi-Arch") == "same":
            return f"{self.record.name}:{self.record.architecture}"
        return self.record.name

    @property
    def newest_mtime(self) -> int:
        """The newest mtime among the package's entries: the date given to files zerocve
        writes on the package's behalf, so they change only when the package does."""
        return max((e.mtime for e in self.entries), default=0)

    def replaces(self, other: UnpackedPackage) -> bool:
        try:
            dependencies = parse_dependencies(self.control.get("Replaces"))
        except RelationSyntaxError as e:
            raise PackageError(f"{self.name}: Replaces: {e}") from e
        for dependency in dependencies:
            for relation in dependency:
                if relation.name != other.name:
                    continue
                if relation.op is None or relation.version is None:
                    return True
                if satisfies(other.record.version, relation.op, relation.version):
                    return True
        return False


def canonical_path(path: str) -> str:
    """``bin/ls`` -> ``usr/bin/ls``; other paths unchanged."""
    top, _, _ = path.partition("/")
    return f"usr/{path}" if top in MERGED_DIRS else path


def _merge_usr(entry: Entry, package: str) -> Entry:
    path = canonical_path(entry.path)
    if path == entry.path:
        if entry.kind is EntryKind.HARDLINK:
            return replace(entry, target=canonical_path(entry.target))
        return entry
    if entry.path in MERGED_DIRS and entry.kind is not EntryKind.DIR:
        raise BuildError(
            f"{package}: ships /{entry.path} as a {entry.kind.value}, which conflicts with "
            f"merged /usr (/{entry.path} is a symlink to usr/{entry.path})"
        )
    target = canonical_path(entry.target) if entry.kind is EntryKind.HARDLINK else entry.target
    return replace(entry, path=path, target=target)


def unpack(
    record: PackageRecord, deb_path: Path, keep: PathFilter = KEEP_ALL
) -> UnpackedPackage:
    """Read the ``.deb`` of ``record``; check it is the package the lock names. Members
    ``keep`` leaves out are not in the result, so neither the image nor the package's file
    list and md5sums have them (``kept_members``)."""
    with DebReader(deb_path) as deb:
        control = deb.control
        found = (control.package, control.get("Version"), control.get("Architecture"))
        wanted = (record.name, record.version, record.architecture)
        if found != wanted:
            raise PackageError(
                f"{deb_path}: is {' '.join(found)}, but the lock names {' '.join(wanted)}"
            )
        entries: dict[str, Entry] = {}
        shipped: list[tuple[str, str]] = []
        for member in kept_members(deb.members(), keep):
            entry = _merge_usr(member, record.name)
            shipped.append((member.path, entry.path))
            previous = entries.get(entry.path)
            if previous is None:
                entries[entry.path] = entry
            elif not (previous.kind is entry.kind is EntryKind.DIR):
                raise BuildError(
                    f"{record.name}: ships /{entry.path} twice once /usr is merged "
                    f"(as /{member.path} too)"
                )
    conffiles = []
    for conffile in control.conffiles:
        shipped_conffile = entries.get(canonical_path(conffile.lstrip("/")))
        if shipped_conffile is not None and shipped_conffile.kind is EntryKind.FILE:
            md5 = hashlib.md5()
            for chunk in content_chunks(shipped_conffile.data):
                md5.update(chunk)
            conffiles.append((conffile, md5.hexdigest()))
    return UnpackedPackage(record, control, tuple(entries.values()), tuple(shipped),
                           tuple(conffiles))


def kept_members(members: Iterable[Entry], keep: PathFilter) -> list[Entry]:
    """``members`` (archive order, paths as shipped) without those ``keep`` leaves out.

    Beyond dpkg: the parent directories of a kept member stay (dpkg would fail to unpack it),
    and a kept hard link whose target was left out becomes a copy of it (its ``data`` is the
    target's content), so what remains unpacks by itself."""
    members = list(members)
    left_out = [keep.leaves_out(f"/{m.path}",
                                container=m.kind in (EntryKind.DIR, EntryKind.SYMLINK))
                for m in members]
    if not any(left_out):
        return members
    kept = {m.path for m, out in zip(members, left_out, strict=True) if not out}
    for path in list(kept):
        for parent in parents(path):
            if parent in kept:
                break  # kept already, and its own parents are or will be added
            kept.add(parent)
    result = []
    for member in members:
        if member.path not in kept:
            continue
        if member.kind is EntryKind.HARDLINK and member.target not in kept:
            member = replace(member, kind=EntryKind.FILE, target="")
        result.append(member)
    return result


def _same(a: Entry, b: Entry) -> bool:
    """Identical apart from mtime (a hard link counts as the file it links to)."""
    content = (EntryKind.FILE, EntryKind.HARDLINK)
    if a.kind in content and b.kind in content:
        return same_content(a.data, b.data) and (a.mode, a.uid, a.gid) == (b.mode, b.uid, b.gid)
    return (a.kind, a.target, a.mode, a.uid, a.gid) == (b.kind, b.target, b.mode, b.uid, b.gid)


@dataclass
class _Slot:
    entry: Entry
    owners: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RootFs:
    """The merged file system: each package's surviving entries, and who owns each path."""

    packages: tuple[UnpackedPackage, ...]
    kept: dict[str, tuple[Entry, ...]]  # package name -> its entries in the image
    paths: dict[str, Entry]  # canonical path -> the entry the image shows
    owners: dict[str, str]  # canonical path -> the (first) package shipping it

    def listed(self, package: UnpackedPackage) -> list[str]:
        """The package's dpkg file list (``/.`` first, paths as shipped, lost paths out)."""
        kept = {e.path for e in self.kept[package.name]}
        return ["/."] + [f"/{orig}" for orig, canon in package.shipped if canon in kept]


def merge(packages: Sequence[UnpackedPackage]) -> RootFs:
    """Apply the conflict rule (module docstring) to ``packages`` in order."""
    by_name = {p.name: p for p in packages}
    slots: dict[str, _Slot] = {}
    dropped: dict[str, set[str]] = {p.name: set() for p in packages}
    for package in packages:
        for entry in package.entries:
            _check_parents(entry, package.name, slots)
            slot = slots.get(entry.path)
            if slot is None:
                slots[entry.path] = _Slot(entry, [package.name])
                continue
            if slot.entry.kind is entry.kind is EntryKind.DIR or _same(slot.entry, entry):
                slot.owners.append(package.name)
                continue
            if all(package.replaces(by_name[o]) for o in slot.owners):
                if slot.entry.kind is EntryKind.DIR:
                    raise BuildError(
                        f"/{entry.path}: {package.name} replaces the directory of "
                        f"{', '.join(slot.owners)} with a {entry.kind.value}"
                    )
                for loser in slot.owners:
                    dropped[loser].add(entry.path)
                slots[entry.path] = _Slot(entry, [package.name])
            elif all(by_name[o].replaces(package) for o in slot.owners):
                dropped[package.name].add(entry.path)
            else:
                raise BuildError(
                    f"/{entry.path}: conflicting files in {slot.owners[0]} "
                    f"({slot.entry.kind.value}) and {package.name} ({entry.kind.value}), "
                    "and neither Replaces the other"
                )
    kept: dict[str, tuple[Entry, ...]] = {}
    for package in packages:
        entries = []
        for entry in package.entries:
            if entry.path in dropped[package.name]:
                continue
            if entry.kind is EntryKind.DIR:
                first = slots[entry.path].entry  # the first package's mode and owner win
                entry = replace(entry, mode=first.mode, uid=first.uid, gid=first.gid)
            entries.append(entry)
        kept[package.name] = tuple(entries)
    return RootFs(
        tuple(packages),
        kept,
        {path: s.entry for path, s in slots.items()},
        {path: s.owners[0] for path, s in slots.items()},
    )


def _check_parents(entry: Entry, package: str, slots: dict[str, _Slot]) -> None:
    for parent in parents(entry.path):
        slot = slots.get(parent)
        if slot is not None and slot.entry.kind is not EntryKind.DIR:
            raise BuildError(
                f"/{entry.path} ({package}): /{parent} is a {slot.entry.kind.value} of "
                f"{slot.owners[0]}, so the entry would not land where it says"
            )


def usr_merge_links(paths: Iterable[str]) -> list[str]:
    """The top-level directories to make symlinks into ``usr/``."""
    present = set(paths)
    return [
        name for name in MERGED_DIRS if name in ALWAYS_LINKED or f"usr/{name}" in present
    ]
