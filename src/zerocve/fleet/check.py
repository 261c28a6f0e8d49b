"""One check of a fleet: watch the repositories and advisory feeds, plan, and record the
rebuilds to do as jobs, all in one transaction.

What was seen (snapshots, first-seen times) and what was decided (locks, jobs, events) commit
together: a check killed half way leaves nothing, and the next one sees the same changes and
makes the same jobs (a job is keyed by image, target package set and spec as built, so
planning twice is one job). When no suite, no feed and no spec changed and no image asks to
be planned again (``Image.replan``: new, resumed), nothing is re-resolved at all: a
no-change check costs one conditional request per suite and feed. A dry run (``zerocve fleet
plan``) does the same and rolls everything back.

A spec edited outside its packages is rebuilt from the published lock, so its job key
(``target_key``: that lock's packages and the spec as built) is known before any index is
read. When that very job failed staging, planning it again could only find the same failed
job: such an image is reported ``failed-staging`` and counts as unchanged, until its spec is
edited again (another key), one of its packages moves or new advisory data reaches it (it
becomes a candidate, and is re-resolved), or the operator resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from zerocve import api
from zerocve.debian.resolve import parse_request
from zerocve.errors import ZerocveError
from zerocve.fleet import built_spec
from zerocve.fleet.config import Fleet
from zerocve.fleet.models import EventKind, Image, JobState
from zerocve.fleet.plan import (
    Candidate,
    ImagePlan,
    PlanImage,
    Verdict,
    moved_names,
    new_providers,
    newest_offered,
    plan,
    reasons,
    target_key,
)
from zerocve.fleet.store import Store
from zerocve.fleet.watch import (
    AdvisoryWatch,
    RepositoryWatch,
    fleet_indices,
    known_fixes,
    releases_of,
    watch_advisories,
    watch_repositories,
)
from zerocve.settings import Settings
from zerocve.spec import ImageSpec, RepositorySpec

_SHOWN = 20  # new versions or fixes named in one event; the rest are counted


@dataclass(frozen=True)
class CheckResult:
    repositories: RepositoryWatch
    advisories: AdvisoryWatch
    plans: tuple[ImagePlan, ...]  # one per image of the fleet file, in its order
    jobs: dict[str, int]  # image → the job of its rebuild (new or already planned)
    planned: bool  # False: nothing changed, nothing was re-resolved
    warnings: tuple[str, ...] = ()  # suites not consulted for an architecture they lack

    @property
    def rebuilds(self) -> list[ImagePlan]:
        return [p for p in self.plans if p.rebuild]


def _union(
    specs: Sequence[ImageSpec], settings: Settings
) -> tuple[list[RepositorySpec], list[str]]:
    """Every repository (once) and architecture the specs read."""
    repositories: dict[str, RepositorySpec] = {}
    archs: set[str] = set()
    for spec in specs:
        for repository in api.repositories_of(spec, settings):
            repositories.setdefault(repository.model_dump_json(), repository)
        archs.update(api.index_archs(spec))
    return list(repositories.values()), sorted(archs)


def _log_changes(
    store: Store, session: Session, repositories: RepositoryWatch, advisories: AdvisoryWatch
) -> None:
    for uri, suite in repositories.changed:
        new = [v for v in repositories.new_versions if (v.uri, v.suite) == (uri, suite)]
        named = ", ".join(v.describe() for v in new[:_SHOWN])
        more = f" and {len(new) - _SHOWN} more" if len(new) > _SHOWN else ""
        store.add_event(
            session, EventKind.REPOSITORY_CHANGED,
            f"{uri} {suite}: " + (f"new {named}{more}" if new else "no new version"),
            data={"uri": uri, "suite": suite, "new": [v.describe() for v in new]},
        )  # fmt: skip
    if advisories.changed:
        fixes = advisories.new_fixes
        named = ", ".join(f"{f.vulnerability} {f.source} {f.fixed_version}" for f in fixes[:_SHOWN])
        store.add_event(
            session, EventKind.ADVISORIES_CHANGED,
            f"{len(fixes)} new fixes" + (f": {named}" if fixes else ""),
            data={"feeds": [f.location for f in advisories.changed], "new_fixes": len(fixes)},
        )  # fmt: skip


def _candidates(
    store: Store, session: Session, fleet: Fleet, images: dict[str, Image],
    specs: dict[str, ImageSpec],
) -> list[Candidate]:  # fmt: skip
    """Every image whose spec could be read, with what its published digest was built from
    (not its lock)."""
    published = store.published_specs(session)
    candidates = []
    for entry in fleet.images:
        if entry.name not in specs:
            continue
        spec, was = specs[entry.name], published.get(images[entry.name].id)
        built = built_spec.as_built(spec)
        candidates.append(Candidate(
            name=entry.name,
            published_spec=was.spec_digest if was else None,
            spec_digest=spec.resolution_digest(),
            requests=frozenset(parse_request(t).name for t in spec.contents.packages),
            build_digest=built_spec.digest(built),
            spec_change=built_spec.spec_change(was.build_spec, built) if was else None,
        ))  # fmt: skip
    return candidates


def _failed_staging(
    store: Store, session: Session, images: dict[str, Image], candidates: list[Candidate]
) -> dict[str, ImagePlan]:
    """Image → its ``failed-staging`` plan, for each image whose only change is its spec as
    built and whose rebuild towards exactly that (published lock, spec) failed staging. Only
    these images' published locks are read (from the store, not the indices)."""
    found: dict[str, ImagePlan] = {}
    for c in candidates:
        image = images[c.name]
        if c.spec_change is None or c.published_spec != c.spec_digest or image.replan:
            continue
        current = store.published_lock(session, image)
        if current is None:
            continue
        job = store.find_job(session, image, target_key(current, c.build_digest))
        if job is not None and job.state is JobState.FAILED:
            found[c.name] = ImagePlan(
                c.name, Verdict.FAILED_STAGING,
                f"job {job.id} failed staging: {job.error}; planned again when its spec, "
                "packages or advisory data change", target_digest=job.target_lock_digest,
                spec_change=c.spec_change,
            )  # fmt: skip
    return found


def check(store: Store, fleet: Fleet, settings: Settings, *, record: bool = True) -> CheckResult:
    """Watch, plan and (unless a dry run, ``record`` False) record jobs for ``fleet``. A
    spec that cannot be read or resolved fails that image's plan, not the check; a
    repository or feed that cannot be read (unreachable, bad signature) fails the check with
    one line, and nothing is recorded."""
    specs: dict[str, ImageSpec] = {}
    broken: dict[str, str] = {}
    for entry in fleet.images:
        try:
            specs[entry.name] = api.load_spec(entry.spec)
        except ZerocveError as e:
            broken[entry.name] = e.diagnostics()
    repositories, archs = _union(list(specs.values()), settings)
    now = store.clock()
    with store.session(commit=record) as session:
        images = store.sync_images(session, fleet)
        repo_watch = watch_repositories(session, repositories, archs, settings, now=now)
        advisory_watch = watch_advisories(session, fleet.advisories, releases_of(repositories),
                                          settings, now=now)  # fmt: skip
        _log_changes(store, session, repo_watch, advisory_watch)
        candidates = _candidates(store, session, fleet, images, specs)
        failed = _failed_staging(store, session, images, candidates)
        quiet = (
            not repo_watch.changed
            and not advisory_watch.new_fixes
            and not any(images[c.name].replan for c in candidates)
            and all(c.published_spec == c.spec_digest
                    and (c.spec_change is None or c.name in failed) for c in candidates)
        )  # fmt: skip
        plans = {name: ImagePlan(name, Verdict.FAILED, why) for name, why in broken.items()}
        warnings = list(repo_watch.warnings)
        if quiet:
            plans.update((c.name, failed.get(c.name)
                          or ImagePlan(c.name, Verdict.NOT_HIT, "nothing changed"))
                         for c in candidates)  # fmt: skip
        else:
            plans.update((p.name, p) for p in _plan(store, session, images, candidates, specs,
                                                     repo_watch, advisory_watch, repositories,
                                                     settings, warnings, failed))  # fmt: skip
        ordered = tuple(plans[entry.name] for entry in fleet.images)
        jobs = _record(store, session, images, ordered)
    return CheckResult(repo_watch, advisory_watch, ordered, jobs, planned=not quiet,
                       warnings=tuple(warnings))


def _plan(
    store: Store,
    session: Session,
    images: dict[str, Image],
    candidates: list[Candidate],
    specs: dict[str, ImageSpec],
    repo_watch: RepositoryWatch,
    advisory_watch: AdvisoryWatch,
    repositories: list[RepositorySpec],
    settings: Settings,
    warnings: list[str],
    failed: dict[str, ImagePlan],
) -> list[ImagePlan]:
    """Find the images a change reaches through the package → image index, read the locks
    of those only, and re-resolve them over the indices read once for this check (cached
    files when the watch did not read them). ``failed``: the plans of images whose spec-only
    rebuild failed staging, kept unless a change reaches them."""
    if not candidates:
        return []
    archs = sorted({a for c in candidates for a in api.index_archs(specs[c.name])})
    indices = repo_watch.indices
    if indices is None:
        indices, missing = fleet_indices(repositories, archs, settings)
        warnings += missing
    everything = [p for index in indices.all() for p in index.packages]
    offered = newest_offered((p.name, p.architecture, p.version) for p in everything)
    new = {(v.name, v.architecture, v.version) for v in repo_watch.new_versions}
    provided = new_providers(
        (p for p in everything if (p.name, p.architecture, p.version) in new), everything
    ) if new else {}  # fmt: skip
    names = moved_names(store.indexed_versions(session), offered) | provided.keys()
    rows = store.indexed(session, names=names, sources=advisory_watch.sources)
    why = reasons(candidates, rows, offered, advisory_watch.sources, provided)
    rolled_back: dict[int, set[str]] = {}
    for job in store.jobs(session, JobState.ROLLED_BACK):
        rolled_back.setdefault(job.image_id, set()).add(job.target_lock_digest)
    hit = [
        PlanImage(
            name=c.name,
            current=store.published_lock(session, images[c.name]),
            spec_digest=c.spec_digest,
            held=images[c.name].held,
            rolled_back=frozenset(rolled_back.get(images[c.name].id, ())),
            build_digest=c.build_digest,
            spec_change=c.spec_change,
        )
        for c in candidates
        if c.name in why or (c.spec_change is not None and c.name not in failed)
    ]
    sources = {p.source for image in hit if image.current
               for a in image.current.archs.values() for p in a.packages}  # fmt: skip
    fixes = known_fixes(settings.db_path, releases_of(repositories), sources)

    def resolve(image: PlanImage) -> api.Lock:
        return api.lock(specs[image.name], settings, indices=indices, previous=image.current)

    planned = {p.name: p for p in plan(hit, resolve, why, fixes)}
    return [planned.get(c.name) or failed.get(c.name)
            or ImagePlan(c.name, Verdict.NOT_HIT, "no package it holds moved")
            for c in candidates]  # fmt: skip


def _record(
    store: Store, session: Session, images: dict[str, Image], plans: Sequence[ImagePlan]
) -> dict[str, int]:
    jobs: dict[str, int] = {}
    for p in plans:
        image = images[p.name]
        if p.verdict is Verdict.FAILED:
            store.add_event(session, EventKind.ERROR, f"{p.name}: cannot plan: {p.why}",
                            image=image)  # fmt: skip
        image.replan = False
        if p.rebuild and p.target is not None and p.target_digest is not None:
            lock = store.record_lock(session, image, p.target)
            job = store.ensure_job(session, image, p.target_digest, p.to_json(), lock_id=lock.id)
            jobs[p.name] = job.id
    return jobs
