"""Pinned image references in text (``REGISTRY/REPO:TAG@sha256:…``) and their rewriting to
the digest each tag has now, as Chainguard's digestabot does for Dockerfiles, Kubernetes and
compose YAML. Pure: finding, rewriting, the diff and the commit message; reading files, asking
the registry and git are in ``zerocve.fleet.pin_apply``.

Only references that name a registry host (``host.domain/…``, ``host:port/…``,
``localhost/…``), a tag and a digest are touched: a bare ``python:3.11@sha256:…`` would
mean Docker Hub, and zerocve never picks a registry. A reference without a digest is not
pinned, so it is left alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zerocve.errors import UsageError
from zerocve.oci.reference import parse_reference

_REFERENCE = re.compile(
    r"(?<![\w./:@-])"  # not the tail of a longer word, path or URL
    r"(?P<name>(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?|[A-Za-z0-9-]+:[0-9]+|localhost)"
    r"/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"@(?P<digest>sha256:[a-f0-9]{64})(?![a-f0-9])"
)


@dataclass(frozen=True)
class Pinned:
    """One occurrence: ``name`` is ``REGISTRY/REPO``; ``line`` counts from 1."""

    name: str
    tag: str
    digest: str
    line: int
    start: int
    end: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.tag)


def find_pinned(text: str) -> list[Pinned]:
    """Every pinned reference in ``text``, in order."""
    found = []
    for match in _REFERENCE.finditer(text):
        try:
            parse_reference(match.group(0))
        except UsageError:  # looks like one, is not one (e.g. a repository name too long)
            continue
        found.append(
            Pinned(match["name"], match["tag"], match["digest"],
                   text.count("\n", 0, match.start()) + 1, match.start(), match.end())
        )
    return found


def rewrite(text: str, current: Mapping[tuple[str, str], str]) -> str:
    """``text`` with each pinned reference's digest replaced by ``current[(name, tag)]``
    (references not in ``current`` are kept)."""
    out = []
    position = 0
    for pinned in find_pinned(text):
        digest = current.get(pinned.key, pinned.digest)
        out.append(text[position:pinned.start])
        out.append(f"{pinned.name}:{pinned.tag}@{digest}")
        position = pinned.end
    out.append(text[position:])
    return "".join(out)


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            f"a/{path}", f"b/{path}",
        )
    )


@dataclass(frozen=True)
class Move:
    """A tag whose pinned digest is no longer the one it has: ``changes`` is the changelog
    of that image (one line per package change), empty when unknown."""

    name: str
    tag: str
    before: str
    after: str
    changes: tuple[str, ...] = ()


def commit_message(moves: Iterable[Move]) -> str:
    """A commit message: a subject, then per image its digest move and package changes."""
    moves = sorted(moves, key=lambda m: (m.name, m.tag, m.before))
    names = sorted({f"{m.name.rsplit('/', 1)[-1]}:{m.tag}" for m in moves})
    subject = f"Pin {', '.join(names)} to the current digest" + ("s" if len(names) > 1 else "")
    body = []
    for move in moves:
        body.append(f"{move.name}:{move.tag}")
        body.append(f"  {move.before} → {move.after}")
        body.extend(f"  {change}" for change in move.changes)
    return subject + "\n\n" + "\n".join(body) + "\n"
