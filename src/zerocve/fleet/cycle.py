"""A fleet cycle: plan the rebuilds, then take each job through its steps, every step
recorded in the store.

    pending ─lock─▶ locked ─build─▶ built ─push─▶ pushed-staging ─stage─▶ staged ─promote─▶ promoted
                               └▶ skipped (same digest as published: nothing pushed)
                                                        └▶ failed (tests, gate, new CVE)

Each step is a function of a job id: it reads what it needs from the store, does work that
is idempotent (keyed by digest: the build is reproducible, pushes skip blobs the registry
has, tag moves skip tags already in place), and records its outcome and its event in one
transaction. So a process killed at any point leaves the job in its last recorded state,
and the next cycle (in this process or another, a worker included) takes it from there:
nothing is pushed or tagged twice, and the staging tag is dropped when the job ends.

A failed stage is terminal for its target lock: the job is retried only when a new change
plans a new target. An operational failure (registry down, podman missing, a signature the
registry refused) leaves the job where it was, records an ``error`` event, and the next
cycle tries the step again.

With a signing key (``signing: {key: …}`` in the fleet file), promotion signs the new digest
and attaches its SBOM, provenance and VEX attestations before any tag moves to it, so a
floating tag never points at an image without them. The key file is read at each promotion
(``zerocve.fleet.signing_key``): a rotated key signs the next one; a key that cannot be read
fails that promotion, which moves no tag.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from zerocve import api
from zerocve.errors import FleetError, StageError, StoreError, ZerocveError
from zerocve.fleet import built_spec
from zerocve.fleet.changelog import fixing_versions, make_changelog
from zerocve.fleet.check import check
from zerocve.fleet.config import Fleet
from zerocve.fleet.diff import ImageDiff, diff_images
from zerocve.fleet.models import EventKind, Image, Job, JobState, LockRecord
from zerocve.fleet.plan import Verdict
from zerocve.fleet.promote import drop_staging, promote, push_staged, staging_reference
from zerocve.fleet.stage import Podman, Sandbox, StageReport, stage
from zerocve.fleet.store import Store
from zerocve.lock import Lock
from zerocve.oci.reader import is_layout
from zerocve.oci.reference import Reference, parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.settings import Settings
from zerocve.vuln.model import ScanResult, State

if TYPE_CHECKING:  # signing is imported when a key is given
    from zerocve.fleet.signing_key import SigningKeyFile
    from zerocve.sign.keys import Signer

# Findings of these states are not counted as introduced by a rebuild: Debian says they do
# not matter (unimportant) or will not be fixed in this release.
_NOT_INTRODUCED = frozenset({State.UNIMPORTANT, State.END_OF_LIFE, State.IGNORED})


@dataclass
class Runner:
    """What every step needs: the store, the settings and the staging sandbox. ``indices``
    are the repositories' package indices of this cycle, read once and shared by every
    image (a step run alone fetches what it needs on first use). ``signing_key``: the
    fleet's signing key file, if it has one."""

    store: Store
    settings: Settings
    sandbox: Sandbox = Sandbox()
    podman: str = "podman"
    policy: api.GatePolicy = api.GatePolicy()
    signing_key: SigningKeyFile | None = None
    indices: api.Indices = field(init=False)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.new_cycle()

    def new_cycle(self) -> None:
        self.indices = api.Indices(settings=self.settings)

    @property
    def podman_storage(self) -> Path:
        return self.settings.state_dir / "podman"

    def layout_dir(self, job_id: int) -> Path:
        return self.settings.state_dir / "jobs" / str(job_id) / "layout"

    def client(self, reference: Reference) -> RegistryClient:
        return api.registry_client(self.settings)(reference.api_host)


@dataclass(frozen=True)
class _JobView:
    """A job and its image as read at the start of a step (plain values, no session)."""

    id: int
    state: JobState
    image: str
    image_id: int
    spec: Path
    repository: Reference  # REGISTRY/REPO, no tag
    tags: tuple[str, ...]
    held: bool
    published: str | None
    digest: str | None
    lock: Lock | None
    lock_id: int | None
    result: dict[str, Any]
    target: str
    reason: dict[str, Any]  # the plan's (ImagePlan.to_json())


def _view(runner: Runner, job_id: int) -> _JobView:
    store = runner.store
    with store.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise FleetError(f"job {job_id}: not in the store")
        image = session.get(Image, job.image_id)
        assert image is not None  # a foreign key
        record = session.get(LockRecord, job.lock_id) if job.lock_id is not None else None
        return _JobView(
            job.id, job.state, image.name, image.id, Path(image.spec_path),
            repository_reference(image.repository), tuple(image.tags), image.held,
            image.published_digest, job.digest,
            Lock.model_validate_json(record.content) if record is not None else None,
            job.lock_id, dict(job.result or {}), job.target_lock_digest, dict(job.reason or {}),
        )


def repository_reference(repository: str) -> Reference:
    """``REGISTRY/REPO`` as a reference without tag or digest."""
    ref = parse_reference(repository)
    return Reference(ref.registry, ref.repository, tag=None)


def _advance(runner: Runner, job_id: int, to: JobState, **fields: Any) -> None:
    with runner.store.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        runner.store.advance(session, job, to, **fields)


def _spec_and_lock(view: _JobView) -> tuple[Any, Lock]:
    if view.lock is None:
        raise FleetError(f"{view.image}: job {view.id} has no lock recorded")
    return api.load_spec(view.spec), view.lock


# -- the steps -------------------------------------------------------------------------


def step_lock(runner: Runner, job_id: int) -> None:
    """pending → locked: the target lock, stored when the job was planned, becomes the
    job's."""
    view = _view(runner, job_id)
    if view.lock_id is None:
        raise FleetError(f"{view.image}: job {job_id}: its target lock is not stored")
    _advance(runner, job_id, JobState.LOCKED, lock_id=view.lock_id)


def step_build(runner: Runner, job_id: int) -> None:
    """locked → built (the OCI layout kept under the state dir for the next steps), or →
    skipped when the image is the one already published, or one the operator rolled back."""
    view = _view(runner, job_id)
    spec, lock = _spec_and_lock(view)
    built = api.build(spec, lock, runner.settings)
    # The spec read now, not when planned: what this digest was really built from.
    recorded = built_spec.as_built(spec)
    with runner.store.session() as session:
        refused = session.scalars(select(Job.id).where(
            Job.image_id == view.image_id, Job.digest == built.digest,
            Job.state == JobState.ROLLED_BACK,
        )).first()  # fmt: skip
    # The planner refuses a rolled-back target, but an edit that does not change the image
    # (its tests) gives another target and the same build: refused here by its digest.
    if refused is not None:
        with runner.store.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
            runner.store.advance(
                session, job, JobState.SKIPPED, digest=built.digest,
                error=f"rebuilt to {built.digest[:19]}, which the operator rolled back (job "
                f"{refused}); zerocve fleet resume {view.image} --repromote allows it again",
            )  # fmt: skip
        return
    if built.digest == view.published:
        with runner.store.session() as session:
            job = session.get(Job, job_id)
            image = session.get(Image, view.image_id)
            assert job is not None and image is not None
            runner.store.advance(session, job, JobState.SKIPPED, digest=built.digest)
            # The published digest is this spec's too: the next check is quiet.
            runner.store.record_digest(session, image, built.digest, build_spec=recorded)
            runner.store.add_event(
                session, EventKind.UNCHANGED,
                f"{view.image}: rebuilt to the published digest {built.digest[:19]}; "
                "nothing pushed", image_id=view.image_id, job=job,
            )  # fmt: skip
        return
    api.write_layout(built, runner.layout_dir(job_id))
    packages = sum(len(a.packages) for a in lock.archs.values())
    with runner.store.session() as session:
        job = session.get(Job, job_id)
        image = session.get(Image, view.image_id)
        assert job is not None and image is not None
        runner.store.advance(session, job, JobState.BUILT, digest=built.digest)
        runner.store.record_digest(session, image, built.digest, lock_id=view.lock_id,
                                   packages=packages, build_spec=recorded)


def _layout(runner: Runner, view: _JobView) -> Path:
    """The job's layout; rebuilt (reproducibly, and checked) when this process lacks it,
    e.g. on another worker."""
    path = runner.layout_dir(view.id)
    if is_layout(path):
        return path
    spec, lock = _spec_and_lock(view)
    built = api.build(spec, lock, runner.settings)
    if built.digest != view.digest:
        raise FleetError(
            f"{view.image}: rebuilding job {view.id} gave {built.digest[:19]}, not the "
            f"recorded {str(view.digest)[:19]}: the build is not reproducible here"
        )
    return api.write_layout(built, path)


def step_push(runner: Runner, job_id: int) -> None:
    """built → pushed-staging: blobs the registry lacks, the manifest by digest, and the
    staging tag in REPO-staging."""
    view = _view(runner, job_id)
    with runner.client(view.repository) as client:
        staged = push_staged(_layout(runner, view), view.repository, client)
    if staged.reference.digest != view.digest:
        raise FleetError(f"{view.image}: pushed {staged.reference.digest}, built {view.digest}")
    with runner.store.session() as session:
        job = session.get(Job, job_id)
        image = session.get(Image, view.image_id)
        assert job is not None and image is not None
        runner.store.advance(session, job, JobState.PUSHED_STAGING,
                             bytes_pushed=staged.bytes_pushed)
        runner.store.record_digest(session, image, staged.reference.digest or "",
                                   bytes_pushed=staged.bytes_pushed,
                                   pushed_at=runner.store.clock())


def _scan(runner: Runner, target: str) -> list[ScanResult]:
    return api.scan(target, runner.settings, offered=runner.indices.newest_sources())


def step_stage(runner: Runner, job_id: int) -> None:
    """pushed-staging → staged, or → failed: every test passes in the pulled-back image, the
    re-scan passes the gate (and matches the lock), and no CVE is new against the published
    image. The result (tests, gate, CVEs fixed and introduced) is recorded either way."""
    view = _view(runner, job_id)
    spec, lock = _spec_and_lock(view)
    assert view.digest is not None
    staged = staging_reference(view.repository, view.digest)
    for arch in api.index_archs(spec):  # what the repositories offer, for the gate
        runner.indices.get(api.repositories_of(spec, runner.settings), arch)
    report: StageReport = stage(staged, spec.test, runner.sandbox, podman=runner.podman,
                                storage=runner.podman_storage, keep=True)
    after = _scan(runner, f"docker://{staged.name}@{view.digest}")
    verdict = api.check_gate(after, runner.policy, expected=lock)
    before = (
        _scan(runner, f"docker://{view.repository.name}@{view.published}")
        if view.published else []
    )
    diff = diff_images(
        view.published or "(nothing published)", view.digest,
        ([p for r in before for p in r.inventory.packages],
         [p for r in after for p in r.inventory.packages]),
        ([f for r in before for f in r.findings], [f for r in after for f in r.findings]),
    )
    # With nothing published yet there is nothing to compare with: no CVE is "new".
    introduced = [f for f in diff.introduced if State(f.state) not in _NOT_INTRODUCED]
    if not view.published:
        introduced = []
    result = {
        "tests": [t.to_json() for t in report.tests],
        "gate": {"passed": verdict.passed, "reason": verdict.reason},
        "diff": diff.to_json(),
        "fixable": sum(1 for r in after for f in r.findings if f.state is State.FIXED),
        "open": sum(1 for r in after for f in r.findings if f.state is State.OPEN),
    }
    if runner.signing_key is not None:  # the triage promotion attests, as publish --sign does
        from zerocve.vuln.formats.openvex import triage

        result["vex"] = [{"platform": platform, "documents": documents} for platform, documents
                         in triage(after, lock.source_date_epoch).items()]
    reasons = [r for r in (
        report.reason,
        "" if verdict.passed else verdict.reason,
        f"introduces {', '.join(sorted({f.vulnerability for f in introduced}))}"
        if introduced else "",
    ) if r]  # fmt: skip
    if not reasons:
        _advance(runner, job_id, JobState.STAGED, result=result)
        return
    with runner.client(view.repository) as client:
        drop_staging(client, staged)
    with runner.store.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        runner.store.advance(session, job, JobState.FAILED, result=result,
                             error="; ".join(reasons))
        runner.store.add_event(
            session, EventKind.STAGE_FAILED,
            f"{view.image}: {view.digest[:19]} not promoted: {'; '.join(reasons)}",
            image_id=view.image_id, job=job, data=result,
        )  # fmt: skip
    shutil.rmtree(runner.layout_dir(job_id).parent, ignore_errors=True)


def step_promote(runner: Runner, job_id: int) -> None:
    """staged → promoted: with a signing key the digest is signed and attested first; then
    the immutable tag and the floating tags move to it and the staging tag goes; or →
    skipped while the image is held. A signature the registry refuses moves no tag."""
    view = _view(runner, job_id)
    assert view.digest is not None and view.lock is not None
    staged = staging_reference(view.repository, view.digest)
    with runner.client(view.repository) as client:
        if view.held:
            drop_staging(client, staged)
            _advance(runner, job_id, JobState.SKIPPED, error="held: not promoted")
            return
        # The key as its file is now: read for each promotion, before any tag moves.
        signed = (_sign(runner.signing_key.signer(), view, client)
                  if runner.signing_key is not None else [])  # fmt: skip
        moves = promote(client, view.repository.repository, view.digest, view.tags)
        drop_staging(client, staged)
    store = runner.store
    diff = ImageDiff.from_json(view.result["diff"])
    wanted = fixing_versions(diff, view.lock)
    with store.session() as session:
        job = session.get(Job, job_id)
        image = session.get(Image, view.image_id)
        assert job is not None and image is not None
        now = store.clock()
        entry = make_changelog(
            view.image, digest_old=view.published, digest_new=view.digest, promoted_at=now,
            diff=diff, new_lock=view.lock, bytes_pushed=job.bytes_pushed,
            tests=view.result.get("tests", []), spec_change=view.reason.get("spec_change"),
            version_seen=store.versions_first_seen(session, [(s, v) for _, s, v in wanted]),
            advisory_seen=store.fixes_first_seen(session, [(s, c) for c, s, _ in wanted]),
        )  # fmt: skip
        data = {**entry.to_json(), "tags": [m.to_json() for m in moves]}
        if signed:
            data["signed"] = signed
        store.advance(session, job, JobState.PROMOTED, result={**view.result, "changelog": data})
        image.published_digest = view.digest
        image.published_at = now
        store.record_digest(session, image, view.digest, promoted_at=now,
                            fixable=view.result.get("fixable"), open=view.result.get("open"))
        store.set_package_index(session, image, view.lock)
        store.add_event(
            session, EventKind.PROMOTED,
            f"{view.image}: {', '.join(view.tags)} → {view.digest[:19]}: {entry.summary()}",
            image_id=view.image_id, job=job, data=data,
        )  # fmt: skip
    shutil.rmtree(runner.layout_dir(job_id).parent, ignore_errors=True)


def _sign(signer: Signer, view: _JobView, client: RegistryClient) -> list[str]:
    """Sign the job's digest and attach its SBOM, provenance and VEX attestations (what
    ``publish --sign`` attaches); one line per signature or attestation. What the key has
    already signed is left alone, so a retry after a failure or a crash adds only the rest."""
    from zerocve.sign import BuildRecord, sign_and_attest

    assert view.digest is not None and view.lock is not None
    try:
        build = BuildRecord.of(view.spec, view.lock)
    except OSError as e:
        raise FleetError(f"{view.spec}: cannot read the spec to attest it: {e.strerror}") from e
    vex = {entry["platform"]: entry["documents"] for entry in view.result.get("vex", [])}
    pinned = Reference(view.repository.registry, view.repository.repository, None, view.digest)
    outcomes = sign_and_attest(client, pinned, view.digest, signer, build=build, vex=vex)
    return [f"{o.what} of {o.digest[:19]}: {'added' if o.added else 'already there'}"
            for o in outcomes]


STEPS: dict[JobState, Callable[[Runner, int], None]] = {
    JobState.PENDING: step_lock,
    JobState.LOCKED: step_build,
    JobState.BUILT: step_push,
    JobState.PUSHED_STAGING: step_stage,
    JobState.STAGED: step_promote,
}


@dataclass(frozen=True)
class Outcome:
    """Where a job stands after a run: ``error`` is the operational failure that stopped it
    (it stays in ``state`` and is taken up again next cycle)."""

    job_id: int
    image: str
    state: JobState
    error: str | None = None


def run_job(runner: Runner, job_id: int) -> Outcome:
    """Take job ``job_id`` through its remaining steps; stops between steps when the runner
    is stopping (the job is parked in its recorded state)."""
    while True:
        view = _view(runner, job_id)
        if view.state.terminal or runner.stopping.is_set():
            return Outcome(job_id, view.image, view.state)
        try:
            STEPS[view.state](runner, job_id)
        except ZerocveError as e:
            message = f"{view.image}: {view.state} step: {e.diagnostics()}"
            try:
                with runner.store.session() as session:
                    runner.store.add_event(session, EventKind.ERROR, message,
                                           image_id=view.image_id, data={"job": job_id})
            except StoreError:
                pass  # the store itself is failing: the message still reaches the caller
            return Outcome(job_id, view.image, view.state, message)


# -- a cycle ---------------------------------------------------------------------------


def _prune_staged(runner: Runner) -> None:
    """Keep the fleet's published images in the staging storage and drop the rest: a
    rebuild's pull then fetches only the layers that changed (one package's), not the base
    every image of the fleet shares. Best effort: podman missing was every stage's error."""
    with runner.store.session() as session:
        published = {i.published_digest for i in session.scalars(select(Image))}
    try:
        Podman(runner.podman, runner.podman_storage).keep_only(
            {d for d in published if d is not None})
    except StageError:
        pass


@dataclass(frozen=True)
class Planned:
    image: str
    job_id: int
    why: str


def plan(runner: Runner, fleet: Fleet) -> tuple[list[Planned], list[str], list[str]]:
    """One check (``zerocve.fleet.check``: watch, plan, record the jobs): the live jobs it
    planned, one line per image (or for the whole check) that could not be planned, and the
    check's warnings (a repository not consulted for an architecture it lacks).
    A check that fails as a whole (a repository unreachable, a bad signature) recorded
    nothing: its line becomes an ``error`` event here."""
    try:
        result = check(runner.store, fleet, runner.settings)
    except ZerocveError as e:
        message = f"check failed: {e.diagnostics()}"
        try:
            with runner.store.session() as session:
                runner.store.add_event(session, EventKind.ERROR, message)
        except StoreError:
            pass  # the store is what failed: the line still reaches the caller
        return [], [message], []
    planned = []
    with runner.store.session() as session:
        for decided in result.rebuilds:
            job = session.get(Job, result.jobs[decided.name])
            if job is not None and not job.state.terminal:  # tried before: stays so
                planned.append(Planned(decided.name, job.id, decided.why))
    errors = [f"{p.name}: cannot plan: {p.why}" for p in result.plans
              if p.verdict is Verdict.FAILED]  # fmt: skip
    return planned, errors, list(result.warnings)


@dataclass(frozen=True)
class CycleReport:
    planned: tuple[Planned, ...]
    outcomes: tuple[Outcome, ...]
    errors: tuple[str, ...]  # planning failures and operational failures of jobs
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.state is JobState.FAILED and o.error is None)


def _unfinished(store: Store) -> dict[int, list[int]]:
    """Live jobs by image, oldest first."""
    live = [s for s in JobState if not s.terminal]
    by_image: dict[int, list[int]] = {}
    with store.session() as session:
        for job in store.jobs(session, *live):
            by_image.setdefault(job.image_id, []).append(job.id)
    return by_image


def run_cycle(runner: Runner, fleet: Fleet, *, workers: int = 2) -> CycleReport:
    """Plan, then run every live job (those just planned and any a crash or a failure left
    behind). One image's jobs run one after another; images run in parallel."""
    runner.new_cycle()
    planned, errors, warnings = plan(runner, fleet)
    before = _unfinished(runner.store)

    def run_image(job_ids: list[int]) -> list[Outcome]:
        return [run_job(runner, job_id) for job_id in job_ids]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = [o for batch in pool.map(run_image, before.values()) for o in batch]
    if outcomes:  # jobs ran, and may have staged images: a no-change cycle costs no podman
        _prune_staged(runner)
    errors += [o.error for o in outcomes if o.error]
    return CycleReport(tuple(planned), tuple(outcomes), tuple(errors), tuple(warnings))
