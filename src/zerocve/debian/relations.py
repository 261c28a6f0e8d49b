"""Debian relationship fields (Depends, Pre-Depends, Provides, Conflicts, Breaks) as records.

Syntax (Debian Policy 7.1, and dpkg's lib/dpkg/parsehelp.c): a comma-separated list of
dependencies, each a ``|``-separated list of alternatives, each
``name[:archqual] [(op version)] [[arch restrictions]] [<build profiles>]``. Arch
restrictions and build profiles only appear in source packages' Build-Depends, but the
parser honours them so that any relationship field can be read: a relation restricted away
from the target architecture (or the active build profiles) is dropped, and so is a
dependency left without alternatives.

Pure: no I/O. Malformed text raises ``RelationSyntaxError`` (a ``ValueError``) naming the
offending fragment; callers add which package and field it came from.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from zerocve.debian.version import parse as parse_version

_RELATION_RE = re.compile(
    r"""^\s*
    (?P<name>[a-z0-9][a-z0-9+.\-]*)
    (?::(?P<archq>[a-zA-Z0-9\-]+))?
    \s*
    (?:\(\s*(?P<op><<|<=|>=|>>|=|<|>)\s*(?P<version>[A-Za-z0-9.+~:\-]+)\s*\))?
    \s*
    (?:\[(?P<archs>[^\]]*)\])?
    \s*
    (?P<profiles>(?:<[^>]*>\s*)*)
    $""",
    re.VERBOSE,
)
_PROFILE_GROUP_RE = re.compile(r"<([^>]*)>")


class RelationSyntaxError(ValueError):
    """A relationship field that does not parse."""


@dataclass(frozen=True, slots=True)
class Relation:
    """One alternative: ``name[:arch_qualifier] [(op version)]``.

    ``arch_qualifier`` is ``None`` for a bare name, else e.g. ``"any"``, ``"native"`` or an
    architecture name. ``op`` and ``version`` are both ``None`` for an unversioned relation.
    """

    name: str
    arch_qualifier: str | None = None
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        text = self.name if self.arch_qualifier is None else f"{self.name}:{self.arch_qualifier}"
        if self.op is not None:
            text += f" ({self.op} {self.version})"
        return text


# A dependency is satisfied by any one of its alternatives, in the order given.
Dependency = tuple[Relation, ...]


def format_dependency(dependency: Dependency) -> str:
    return " | ".join(str(r) for r in dependency)


def _split_arch(arch: str) -> tuple[str, str]:
    """``(os, cpu)`` of a Debian architecture name: ``amd64`` is linux on amd64."""
    os_name, sep, cpu = arch.partition("-")
    return (os_name, cpu) if sep else ("linux", arch)


def arch_matches(arch: str, pattern: str) -> bool:
    """Whether ``arch`` matches an architecture or wildcard (``any``, ``linux-any``,
    ``any-amd64``), as dpkg-architecture ``--is`` decides."""
    if pattern in ("any", arch):
        return True
    if "any" not in pattern.split("-"):
        return False
    want_os, want_cpu = _split_arch(pattern)
    os_name, cpu = _split_arch(arch)
    return want_os in ("any", os_name) and want_cpu in ("any", cpu)


def _archs_allow(restriction: str, arch: str | None, fragment: str) -> bool:
    terms = restriction.split()
    if not terms:
        raise RelationSyntaxError(f"empty architecture restriction in {fragment!r}")
    negated = [t.startswith("!") for t in terms]
    if any(negated) and not all(negated):
        raise RelationSyntaxError(f"mixed negated and plain architectures in {fragment!r}")
    if arch is None:
        return True
    if all(negated):
        return not any(arch_matches(arch, t[1:]) for t in terms)
    return any(arch_matches(arch, t) for t in terms)


def _profiles_allow(text: str, profiles: Collection[str]) -> bool:
    """A restriction formula is a list of ``<...>`` groups: true when all the terms of any
    one group hold (``!p`` holds when profile ``p`` is not active)."""
    groups = _PROFILE_GROUP_RE.findall(text)
    if not groups:
        return True
    return any(
        all((t[1:] not in profiles) if t.startswith("!") else (t in profiles) for t in g.split())
        for g in groups
    )


def _parse_alternative(fragment: str) -> tuple[Relation, str | None, str]:
    """One alternative: the relation, its ``[arch restriction]`` text (or None) and its
    build-profile text ('' when none)."""
    match = _RELATION_RE.match(fragment)
    if match is None:
        raise RelationSyntaxError(f"cannot parse relation {fragment.strip()!r}")
    if match["version"] is not None:
        try:
            parse_version(match["version"])
        except ValueError as e:
            raise RelationSyntaxError(f"{fragment.strip()!r}: {e}") from None
    relation = Relation(
        name=match["name"],
        arch_qualifier=match["archq"],
        op=match["op"],
        version=match["version"],
    )
    return relation, match["archs"], match["profiles"]


def parse_dependencies(
    text: str, arch: str | None = None, profiles: Collection[str] = ()
) -> list[Dependency]:
    """Parse a Depends-like field into dependencies (tuples of alternatives).

    With ``arch`` given, relations whose ``[arch restriction]`` excludes it are dropped;
    relations whose ``<build profile>`` formula is false for ``profiles`` are dropped too. A
    dependency whose alternatives are all dropped disappears.
    """
    dependencies: list[Dependency] = []
    for item in text.split(","):
        if not item.strip():
            # dpkg tolerates a trailing comma; an empty alternative inside "a | | b" is junk.
            continue
        alternatives: list[Relation] = []
        for fragment in item.split("|"):
            relation, archs, profile_text = _parse_alternative(fragment)
            if archs is not None and not _archs_allow(archs, arch, fragment.strip()):
                continue
            if not _profiles_allow(profile_text, profiles):
                continue
            alternatives.append(relation)
        if alternatives:
            dependencies.append(tuple(alternatives))
    return dependencies


def parse_provides(text: str) -> list[Relation]:
    """Parse a Provides field: plain names, or ``name (= version)`` (versioned Provides).

    Provides allows neither alternatives nor any operator other than ``=``.
    """
    provided: list[Relation] = []
    for dependency in parse_dependencies(text):
        if len(dependency) != 1:
            raise RelationSyntaxError(
                f"alternatives are not allowed in Provides: {format_dependency(dependency)!r}"
            )
        relation = dependency[0]
        if relation.op not in (None, "="):
            raise RelationSyntaxError(f"Provides allows only '=': {str(relation)!r}")
        provided.append(relation)
    return provided


__all__ = [
    "Dependency",
    "Relation",
    "RelationSyntaxError",
    "arch_matches",
    "format_dependency",
    "parse_dependencies",
    "parse_provides",
]
