"""The watchers: what changed in the repositories and in the advisory feeds since the store
last looked, with the first time each new version and each new fix was seen.

Repositories: each suite's InRelease is polled with a conditional request (the ETag and
Last-Modified of the last one seen), through the repository client, verified as always; when
one changed, the Packages indices are read once for the cycle (an ``Indices`` value every
image's re-resolution then shares) and each index whose digest moved is diffed against the
versions already seen. Advisories: the feeds are re-ingested by the advisory DB's own update
(unchanged inputs or a 304 cost nothing) and the fixed versions diffed against those seen.

A fleet's architectures are the union of its images': a repository whose Release lists no
index for one of them (a vendor repository with amd64 only, beside Debian's amd64 and arm64)
is not consulted for that architecture, with one warning line, instead of failing the watch.

Nothing here commits: the rows go into the caller's session, so a cycle records what it saw
together with what it decided (``zerocve.fleet.check``), and a cycle killed half way sees the
same changes again next time. The first look at an index or a feed records a baseline: what
is already there was not "new", and its first-seen time is only a lower bound.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from zerocve import api
from zerocve.debian.releases import VERSION_IDS
from zerocve.debian.repo import PackageIndex, keyring_of
from zerocve.fleet.models import (
    AdvisorySnapshot,
    FixSeen,
    IndexSnapshot,
    RepositorySnapshot,
    VersionSeen,
)
from zerocve.fleet.plan import Fix
from zerocve.settings import Settings
from zerocve.spec import RepositorySpec
from zerocve.vuln import db as advisory_db
from zerocve.vuln.db import FeedSource

M = TypeVar("M")


@dataclass(frozen=True)
class NewVersion:
    uri: str
    suite: str
    name: str
    architecture: str
    version: str
    source: str
    source_version: str

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.suite})"


@dataclass(frozen=True)
class RepositoryWatch:
    changed: tuple[tuple[str, str], ...]  # (uri, suite) whose Release changed or is new
    new_versions: tuple[NewVersion, ...]  # not counting a first look's baseline
    indices: api.Indices | None  # read this cycle when something changed, else None
    warnings: tuple[str, ...] = ()  # suites not consulted for an architecture they lack


@dataclass
class ArchTolerantFetch:
    """How a fleet check reads indices (``api.Indices(fetch=…)``): a suite whose Release
    lists no Packages index of an architecture, for any of the repository's components, is
    not consulted for it, and said once in ``warnings``; any other failure is raised as
    always. Components that lack the index in a suite that has others still fail: that is a
    broken repository, not a narrower one."""

    settings: Settings
    warnings: list[str] = field(default_factory=list)

    def __call__(self, repositories: list[RepositorySpec], arch: str) -> list[PackageIndex]:
        indices: list[PackageIndex] = []
        with api.repo_client(self.settings, repositories) as client:
            for repository in repositories:
                keyring = keyring_of(repository)
                for suite in repository.suites:
                    release, _ = client.fetch_release(repository.uri, suite, keyring)
                    if not any(_lists(release.files, component, arch)
                               for component in repository.components):  # fmt: skip
                        self.warnings.append(
                            f"{repository.uri} {suite}: no {arch} packages; not consulted "
                            f"for {arch}"
                        )
                        continue
                    one = repository.model_copy(update={"suites": [suite]})
                    indices += client.fetch_indices([one], arch)
        return indices


def _lists(files: Collection[str], component: str, arch: str) -> bool:
    stem = f"{component}/binary-{arch}/Packages"
    return any(name == stem or name.startswith(f"{stem}.") for name in files)


def fleet_indices(
    repositories: Sequence[RepositorySpec], archs: Sequence[str], settings: Settings
) -> tuple[api.Indices, list[str]]:
    """Every index of ``repositories`` for ``archs``, read now, with the warnings of the
    suites not consulted for an architecture; later ``get`` calls fetch the same way."""
    fetch = ArchTolerantFetch(settings)
    indices = api.Indices(fetch=fetch)
    for arch in archs:
        indices.get(list(repositories), arch)
    return indices, fetch.warnings


@dataclass(frozen=True)
class NewFix:
    release: str
    source: str
    vulnerability: str
    fixed_version: str


@dataclass(frozen=True)
class AdvisoryWatch:
    changed: tuple[FeedSource, ...]  # feeds whose content differs from the last one seen
    new_fixes: tuple[NewFix, ...]  # not counting a first look's baseline

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(f.source for f in self.new_fixes)


def releases_of(repositories: Sequence[RepositorySpec]) -> list[str]:
    """The Debian releases (codenames) the suites belong to: ``bookworm-security`` →
    ``bookworm``; suites of no known release are left out."""
    found = {suite.split("-")[0].split("/")[0] for r in repositories for suite in r.suites}
    return sorted(found & set(VERSION_IDS))


def _one(session: Session, model: type[M], **key: object) -> M | None:
    return session.scalars(select(model).filter_by(**key)).one_or_none()


def watch_repositories(
    session: Session,
    repositories: Sequence[RepositorySpec],
    archs: Sequence[str],
    settings: Settings,
    *,
    now: datetime,
) -> RepositoryWatch:
    """Poll every suite of ``repositories``; when one changed, read the indices of all of
    them for ``archs`` (once) and record the versions not seen before."""
    changed: list[tuple[str, str]] = []
    with api.repo_client(settings, repositories) as client:
        for repository in repositories:
            keyring = keyring_of(repository)
            for suite in repository.suites:
                snapshot = _one(session, RepositorySnapshot, uri=repository.uri, suite=suite)
                check = client.check_release(
                    repository.uri, suite, keyring,
                    etag=snapshot.etag if snapshot else "",
                    last_modified=snapshot.last_modified if snapshot else "",
                )  # fmt: skip
                if snapshot is not None:
                    snapshot.checked_at = now
                if check.release is None or (snapshot and snapshot.release_sha256 == check.sha256):
                    continue
                changed.append((repository.uri, suite))
                if snapshot is None:
                    session.add(RepositorySnapshot(
                        uri=repository.uri, suite=suite, release_sha256=check.sha256,
                        etag=check.etag, last_modified=check.last_modified, checked_at=now,
                        changed_at=now,
                    ))  # fmt: skip
                else:
                    snapshot.release_sha256 = check.sha256
                    snapshot.etag, snapshot.last_modified = check.etag, check.last_modified
                    snapshot.changed_at = now
    if not changed:
        session.flush()
        return RepositoryWatch((), (), None)
    indices, warnings = fleet_indices(repositories, archs, settings)
    new = [v for index in indices.all() for v in _diff_index(session, index, now)]
    session.flush()
    return RepositoryWatch(tuple(changed), tuple(new), indices, tuple(warnings))


def _diff_index(session: Session, index: PackageIndex, now: datetime) -> list[NewVersion]:
    """Record the versions of ``index`` not seen before in its suite; the new ones (none on
    a first look, which is a baseline)."""
    origin = index.origin
    snapshot = _one(session, IndexSnapshot, uri=origin.uri, suite=origin.suite,
                    component=origin.component, architecture=origin.architecture)  # fmt: skip
    if snapshot is not None and snapshot.sha256 == index.sha256:
        return []
    baseline = snapshot is None
    if snapshot is None:
        session.add(IndexSnapshot(uri=origin.uri, suite=origin.suite, component=origin.component,
                                  architecture=origin.architecture, sha256=index.sha256,
                                  seen_at=now))  # fmt: skip
    else:
        snapshot.sha256, snapshot.seen_at = index.sha256, now
    seen = {tuple(row) for row in session.execute(
        select(VersionSeen.name, VersionSeen.architecture, VersionSeen.version)
        .where(VersionSeen.uri == origin.uri, VersionSeen.suite == origin.suite)
    )}  # fmt: skip
    new: list[NewVersion] = []
    for p in index.packages:
        key = (p.name, p.architecture, p.version)
        if key in seen:
            continue
        seen.add(key)  # an arch: all package is listed in every architecture's index
        session.add(VersionSeen(
            uri=origin.uri, suite=origin.suite, name=p.name, architecture=p.architecture,
            version=p.version, source=p.source, source_version=p.source_version,
            first_seen=now, baseline=baseline,
        ))  # fmt: skip
        if not baseline:
            new.append(NewVersion(origin.uri, origin.suite, p.name, p.architecture, p.version,
                                  p.source, p.source_version))  # fmt: skip
    return new


def watch_advisories(
    session: Session,
    feeds: Sequence[FeedSource],
    releases: Collection[str],
    settings: Settings,
    *,
    now: datetime,
) -> AdvisoryWatch:
    """Re-ingest ``feeds`` into the advisory DB and record the fixes (for ``releases``) not
    seen before. No feeds: nothing to watch."""
    if not feeds:
        return AdvisoryWatch((), ())
    client = httpx.Client(transport=settings.transport) if settings.transport else None
    try:
        stats = advisory_db.update(feeds, settings.db_path, reporter=settings.reporter,
                                   client=client)  # fmt: skip
    finally:
        if client is not None:
            client.close()
    changed: list[FeedSource] = []
    first_look = False
    for feed in stats.sources:
        kind, location = feed.source.kind, feed.source.location
        snapshot = _one(session, AdvisorySnapshot, kind=kind, location=location)
        if snapshot is None:
            first_look = True
            session.add(AdvisorySnapshot(kind=kind, location=location,
                                         fingerprint=feed.fingerprint, checked_at=now,
                                         changed_at=now))  # fmt: skip
        else:
            snapshot.checked_at = now
            if snapshot.fingerprint == feed.fingerprint:
                continue
            snapshot.fingerprint, snapshot.changed_at = feed.fingerprint, now
        changed.append(feed.source)
    if not changed:
        session.flush()
        return AdvisoryWatch((), ())
    seen = {tuple(row) for row in session.execute(
        select(FixSeen.release, FixSeen.source, FixSeen.vulnerability, FixSeen.fixed_version)
    )}  # fmt: skip
    new: list[NewFix] = []
    with advisory_db.open_db(settings.db_path) as db:
        for release in sorted(releases):
            for source, vulnerability, fixed in db.fixes(release):
                key = (release, source, vulnerability, fixed)
                if key in seen:
                    continue
                session.add(FixSeen(release=release, source=source, vulnerability=vulnerability,
                                    fixed_version=fixed, first_seen=now, baseline=first_look))
                if not first_look:
                    new.append(NewFix(release, source, vulnerability, fixed))
    session.flush()
    return AdvisoryWatch(tuple(changed), tuple(new))


def known_fixes(
    db_path: Path, releases: Collection[str], sources: Collection[str]
) -> dict[str, list[Fix]]:
    """Source → the fixes the advisory DB knows for it in ``releases``: what the planner
    names a move's CVEs from. No DB yet: no names (the plan itself does not need them)."""
    if not db_path.is_file():
        return {}
    result: dict[str, list[Fix]] = {}
    with advisory_db.open_db(db_path) as db:
        for row in db.affected(sorted(releases), sources):
            if row.affected.fixed is not None:
                result.setdefault(row.affected.package, []).append(
                    Fix(row.vuln, row.affected.fixed)
                )
    return result
