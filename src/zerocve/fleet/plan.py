"""The planner: which images to rebuild, and why. Pure: no I/O, no clock.

An image is rebuilt when its lock would change if re-resolved now: its package set (name,
architecture, version, SHA256 per image architecture) differs from the published lock's, or
it was never built, or its spec now decides another package set. Resolution is the caller's
callback (the fleet passes ``zerocve.api.lock`` over indices fetched once per cycle); the
planner only calls it for candidates, which ``reasons`` finds from the store's package →
image index (``Indexed`` rows, not the locks): images holding a package the repositories now
offer at another version (``offered``, from the same indices), images a new fix reaches
(``advisory_sources``), images holding or depending on a name that a new package provides
(``provided``, from ``new_providers``), never-built images and changed specs. Everything that
reaches one image coalesces into one ``ImagePlan``: one rebuild however many of its packages
moved.

An image is also rebuilt when its spec changed outside what decides its packages (entrypoint,
environment, files filters...: ``spec_change``, see ``zerocve.fleet.built_spec``). Such an
image is not re-resolved unless something else reached it: its target is the published lock
itself, so no package upgrade rides along that the planner would not have made anyway. A
rebuild's job key (``target_key``) covers the package set and the spec as built, so a spec
edit after a failed or rolled-back rebuild is a new target.

A plan names each package move (old → new) and the vulnerabilities the new source version
fixes (``fixes``: source → (vulnerability, fixed version) as the advisory DB has them; a move
from ``old`` to ``new`` fixes those with old < fixed ≤ new in dpkg's order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from zerocve.debian.model import BinaryPackage
from zerocve.debian.relations import RelationSyntaxError, parse_dependencies, parse_provides
from zerocve.debian.version import compare
from zerocve.errors import ZerocveError
from zerocve.lock import Lock, LockedPackage

PackageKey = tuple[str, str]  # (name, architecture) as dpkg names an installed package


class Verdict(StrEnum):
    REBUILD = "rebuild"
    UP_TO_DATE = "up-to-date"  # re-resolution gives the published package set
    NOT_HIT = "not-hit"  # nothing it holds moved: not even re-resolved
    HELD = "held"  # would be rebuilt, but rolled back and held until resumed
    ROLLED_BACK = "rolled-back"  # would be rebuilt to the very build the operator rolled back
    FAILED = "failed"  # re-resolution failed (the error says why); the image is left alone
    # Its spec-only rebuild failed staging, and nothing it is built from changed since: not
    # planned again (nor its indices read) until its spec, packages or advisory data change.
    FAILED_STAGING = "failed-staging"


@dataclass(frozen=True)
class Indexed:
    """One row of the package → image index: a package of an image's published lock."""

    image: str
    arch: str  # the image's architecture
    name: str
    architecture: str  # the package's
    version: str
    source: str
    source_version: str


def indexed(image: str, lock: Lock) -> list[Indexed]:
    """The index rows of ``image`` when ``lock`` is published."""
    return [
        Indexed(image, arch, p.name, p.architecture, p.version, p.source, p.source_version)
        for arch, locked in sorted(lock.archs.items())
        for p in locked.packages
    ]


@dataclass(frozen=True)
class Candidate:
    """What decides whether an image must be re-resolved, before its lock is read."""

    name: str
    published_spec: str | None  # the published lock's spec digest; None: never built
    spec_digest: str  # ImageSpec.resolution_digest() of the spec now
    requests: frozenset[str] = frozenset()  # package names the spec asks for
    build_digest: str = ""  # built_spec.digest of the spec now
    spec_change: str | None = None  # built_spec.spec_change since the published build


@dataclass(frozen=True)
class PlanImage:
    """What the planner knows about a candidate image."""

    name: str
    current: Lock | None  # the published image's lock; None: never built
    spec_digest: str  # ImageSpec.resolution_digest() of the spec now
    held: bool = False
    rolled_back: frozenset[str] = frozenset()  # target keys the operator rolled back
    build_digest: str = ""  # built_spec.digest of the spec now
    spec_change: str | None = None  # built_spec.spec_change since the published build


@dataclass(frozen=True)
class Fix:
    vulnerability: str
    fixed_version: str


@dataclass(frozen=True)
class Move:
    """One package whose version moves (or appears, or goes)."""

    name: str
    architecture: str
    source: str
    old: str | None
    new: str | None
    old_source_version: str | None
    new_source_version: str | None
    fixes: tuple[str, ...] = ()  # vulnerabilities the new source version fixes

    def describe(self) -> str:
        text = f"{self.name} {self.old or '(new)'} → {self.new or '(removed)'}"
        return text + (f" fixes {', '.join(self.fixes)}" if self.fixes else "")

    def to_json(self) -> dict[str, object]:
        """As ``zerocve.fleet.diff.PackageChange`` names a change (before/after), plus the
        source versions and the fixes."""
        return {
            "name": self.name, "architecture": self.architecture, "source": self.source,
            "before": self.old, "after": self.new,
            "source_before": self.old_source_version, "source_after": self.new_source_version,
            "fixes": list(self.fixes),
        }  # fmt: skip


@dataclass(frozen=True)
class ImagePlan:
    name: str
    verdict: Verdict
    why: str  # one line
    moves: tuple[Move, ...] = ()
    target: Lock | None = field(default=None, compare=False, repr=False)
    target_digest: str | None = None  # target_key(target, build digest): the job key
    spec_change: str | None = None  # why the spec as built makes it a rebuild, if it does

    @property
    def rebuild(self) -> bool:
        return self.verdict is Verdict.REBUILD

    @property
    def fixes(self) -> tuple[str, ...]:
        return tuple(sorted({v for m in self.moves for v in m.fixes}))

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.name, "verdict": str(self.verdict), "why": self.why,
            "target": self.target_digest, "packages": [m.to_json() for m in self.moves],
            "fixes": list(self.fixes), "spec_change": self.spec_change,
        }  # fmt: skip


Resolver = Callable[[PlanImage], Lock]
Fixes = Mapping[str, Sequence[Fix]]  # source package → what the advisory data says fixes it


def package_set(lock: Lock) -> frozenset[tuple[str, str, str, str, str]]:
    """What decides the image's contents: (image arch, name, architecture, version, SHA256).
    Index and Release digests and the lock's date are left out: a re-signed Release with the
    same packages is no reason for a new digest."""
    return frozenset(
        (arch, p.name, p.architecture, p.version, p.sha256)
        for arch, locked in lock.archs.items()
        for p in locked.packages
    )


def package_set_digest(lock: Lock) -> str:
    """``sha256:…`` of ``package_set``: the same packages, the same key, whatever the date."""
    blob = json.dumps(sorted(package_set(lock)), separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def target_key(lock: Lock, build_digest: str) -> str:
    """A rebuild's job key: ``sha256:…`` of its package set and of the spec it is built
    from. Jobs planned before the spec was part of the key have ``package_set_digest``."""
    blob = json.dumps([sorted(package_set(lock)), build_digest], separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def newest_offered(packages: Iterable[tuple[str, str, str]]) -> dict[PackageKey, str]:
    """(name, architecture, version) triples of the indices → the newest version of each
    (name, architecture): what a re-resolution would pick unless a spec pins it."""
    newest: dict[PackageKey, str] = {}
    for name, architecture, version in packages:
        known = newest.get((name, architecture))
        if known is None or compare(version, known) > 0:
            newest[(name, architecture)] = version
    return newest


def _packages(lock: Lock) -> dict[PackageKey, LockedPackage]:
    return {(p.name, p.architecture): p for a in lock.archs.values() for p in a.packages}


def moves(
    old: Lock | None, new: Lock, fixes: Fixes | None = None
) -> tuple[Move, ...]:
    """Every package whose presence or version differs between ``old`` and ``new``, sorted,
    with the vulnerabilities each move fixes."""
    before = _packages(old) if old is not None else {}
    after = _packages(new)
    result = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was.version == now.version:
            continue
        either = now or was
        assert either is not None  # the key came from one of the two
        source = either.source
        old_src = was.source_version if was else None
        new_src = now.source_version if now else None
        result.append(Move(
            key[0], key[1], source, was.version if was else None, now.version if now else None,
            old_src, new_src, fixed_by((fixes or {}).get(source, ()), old_src, new_src),
        ))  # fmt: skip
    return tuple(result)


def fixed_by(fixes: Iterable[Fix], old: str | None, new: str | None) -> tuple[str, ...]:
    """The vulnerabilities fixed by moving a source from ``old`` (None: absent) to ``new``:
    old < fixed ≤ new. A package that goes away fixes nothing by this measure."""
    if new is None:
        return ()
    return tuple(sorted({
        f.vulnerability for f in fixes
        if compare(f.fixed_version, new) <= 0 and (old is None or compare(old, f.fixed_version) < 0)
    }))  # fmt: skip


def moved_names(
    versions: Iterable[tuple[str, str, str]], offered: Mapping[PackageKey, str]
) -> set[str]:
    """Of the index's distinct (name, architecture, version): the names offered now at
    another version. The index is then read for these names only."""
    return {name for name, architecture, version in versions
            if offered.get((name, architecture), version) != version}  # fmt: skip


def new_providers(
    new: Iterable[BinaryPackage], everything: Iterable[BinaryPackage]
) -> dict[str, str]:
    """Name → why an image holding it must be re-resolved, for names only reachable through
    a Provides: each name a new package version provides (a held package of that name may
    be replaced by it), and each package that depends on such a name (its dependency may
    now resolve to the new provider). A malformed field is skipped: resolution reports it."""
    provided: dict[str, str] = {}
    for package in new:
        try:
            relations = parse_provides(package.provides) if package.provides else []
        except RelationSyntaxError:
            continue
        for relation in relations:
            provided.setdefault(relation.name, f"new {package.name} {package.version} provides "
                                f"{relation.name}")  # fmt: skip
    if not provided:
        return {}
    found = dict(provided)
    for package in everything:
        text = f"{package.depends},{package.pre_depends}"
        if package.name in found or not any(name in text for name in provided):
            continue  # a cheap test first: most packages name none of them
        try:
            dependencies = parse_dependencies(text)
        except RelationSyntaxError:
            continue
        for dependency in dependencies:
            hit = next((r.name for r in dependency if r.name in provided), None)
            if hit is not None:
                found[package.name] = f"{provided[hit]}, which {package.name} depends on"
                break
    return found


def reasons(
    candidates: Sequence[Candidate],
    rows: Iterable[Indexed],
    offered: Mapping[PackageKey, str],
    advisory_sources: frozenset[str] = frozenset(),
    provided: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Image → why it must be re-resolved; images not named need not be. ``rows``: the index
    rows of the moved, advised and provided names (more do no harm)."""
    provided = provided or {}
    hits: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: (r.image, r.arch, r.name, r.architecture)):
        if row.image in hits:
            continue
        version = offered.get((row.name, row.architecture))
        if version is not None and version != row.version:
            hits[row.image] = f"{row.name} {row.version} → {version} offered"
        elif row.source in advisory_sources:
            hits[row.image] = f"new advisory data for {row.source}"
        elif row.name in provided:
            hits[row.image] = provided[row.name]
    found: dict[str, str] = {}
    for candidate in candidates:
        if candidate.published_spec is None:
            found[candidate.name] = "never built"
        elif candidate.published_spec != candidate.spec_digest:
            found[candidate.name] = "the spec's contents or archs changed"
        elif candidate.name in hits:
            found[candidate.name] = hits[candidate.name]
        elif requested := sorted(candidate.requests & provided.keys()):
            found[candidate.name] = provided[requested[0]]
    return found


def plan_image(
    image: PlanImage, resolve: Resolver, reason: str | None, fixes: Fixes | None = None
) -> ImagePlan:
    """The plan of one image (see the module docstring); ``reason``: why it is a candidate
    for re-resolution (None: it is not, and it is not re-resolved)."""
    if reason is None and (image.spec_change is None or image.current is None):
        return ImagePlan(image.name, Verdict.NOT_HIT, "no package it holds moved")
    try:
        # Only the spec as built changed: the published packages, exactly.
        target = (image.current if reason is None and image.current is not None
                  else resolve(image))  # fmt: skip
    except ZerocveError as e:
        return ImagePlan(image.name, Verdict.FAILED, e.diagnostics())
    changes = moves(image.current, target, fixes)
    current = image.current
    resolved_same = (current is not None and package_set(current) == package_set(target)
                     and current.spec == target.spec)  # fmt: skip
    if resolved_same and image.spec_change is None:
        return ImagePlan(image.name, Verdict.UP_TO_DATE, "re-resolution gives the same packages")
    digest = target_key(target, image.build_digest)
    if current is None:
        why = f"never built ({sum(len(a.packages) for a in target.archs.values())} packages)"
    else:
        parts = []
        if changes:
            shown = "; ".join(m.describe() for m in changes[:3])
            parts.append(shown + (f"; and {len(changes) - 3} more" if len(changes) > 3 else ""))
        elif not resolved_same and reason:
            parts.append(reason)
        if image.spec_change:
            parts.append(image.spec_change)
        why = "; ".join(parts)
    change = image.spec_change if current is not None else None  # a first build is no change
    if image.held:
        return ImagePlan(image.name, Verdict.HELD, f"held (zerocve fleet resume): {why}",
                         changes, target, digest, change)  # fmt: skip
    # A job planned before the key covered the spec is keyed by its package set alone.
    if digest in image.rolled_back or package_set_digest(target) in image.rolled_back:
        return ImagePlan(
            image.name, Verdict.ROLLED_BACK,
            f"rolled back by the operator (zerocve fleet resume {image.name} --repromote "
            f"allows it again): {why}", changes, target, digest, change,
        )  # fmt: skip
    return ImagePlan(image.name, Verdict.REBUILD, why, changes, target, digest, change)


def plan(
    images: Sequence[PlanImage],
    resolve: Resolver,
    why: Mapping[str, str],
    fixes: Fixes | None = None,
) -> list[ImagePlan]:
    """One plan per image, in the order given; ``why``: the candidates (see ``reasons``)."""
    return [plan_image(image, resolve, why.get(image.name), fixes) for image in images]
