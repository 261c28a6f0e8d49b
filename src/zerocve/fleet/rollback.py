"""Rollback and hold: move an image's floating tags back to an earlier promoted digest and
keep the fleet from promoting it again until it is resumed. Both are events.

The job that promoted the rolled-back build becomes ``rolled-back``: after a resume the
planner still does not rebuild towards that build (a new input, which gives another target
lock, is promoted as usual), unless the operator allows it again with ``resume(…,
repromote=True)``, which makes that job pending: the next cycle stages and promotes it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from zerocve.errors import FleetError
from zerocve.fleet.cycle import Runner, repository_reference
from zerocve.fleet.models import DigestRecord, EventKind, Image, Job, JobState, LockRecord
from zerocve.fleet.promote import TagMove, move_tags
from zerocve.fleet.store import Store
from zerocve.lock import Lock


@dataclass(frozen=True)
class RolledBack:
    image: str
    before: str
    after: str
    moves: tuple[TagMove, ...]


def rollback(runner: Runner, name: str, to: str | None = None) -> RolledBack:
    """Point ``name``'s floating tags at ``to`` (a digest built for it), or at the digest
    promoted before the current one, and hold the image."""
    store = runner.store
    with store.session() as session:
        image = store.image(session, name)
        current = image.published_digest
        if current is None:
            raise FleetError(f"{name}: never promoted: nothing to roll back")
        query = select(DigestRecord).where(DigestRecord.image_id == image.id)
        if to is None:
            query = query.where(
                DigestRecord.promoted_at.is_not(None), DigestRecord.digest != current
            ).order_by(DigestRecord.promoted_at.desc())
        else:
            query = query.where(DigestRecord.digest == to)
        target = session.scalars(query.limit(1)).first()
        if target is None:
            raise FleetError(
                f"{name}: no earlier promoted digest to roll back to" if to is None
                else f"{name}: {to} was never built for this image (see zerocve fleet history)"
            )
        digest, lock_id = target.digest, target.lock_id
        repository, tags = repository_reference(image.repository), tuple(image.tags)
    with runner.client(repository) as client:
        moves = move_tags(client, repository.repository, digest, tags)
    with store.session() as session:
        image = store.image(session, name)
        image.published_digest = digest
        image.published_at = store.clock()
        image.held = True
        record = session.get(LockRecord, lock_id) if lock_id is not None else None
        if record is not None:
            store.set_package_index(session, image, Lock.model_validate_json(record.content))
        for job in session.scalars(select(Job).where(
            Job.image_id == image.id, Job.digest == current, Job.state == JobState.PROMOTED
        )):  # fmt: skip
            store.advance(session, job, JobState.ROLLED_BACK, error="rolled back by the operator")
        data = {"before": current, "after": digest, "tags": [m.to_json() for m in moves]}
        store.add_event(session, EventKind.ROLLED_BACK,
                        f"{name}: {', '.join(tags)} back to {digest[:19]} from {current[:19]}",
                        image=image, data=data)
        store.add_event(session, EventKind.HELD,
                        f"{name}: held; no promotion until zerocve fleet resume {name}",
                        image=image)
    return RolledBack(name, current, digest, moves)


@dataclass(frozen=True)
class Resumed:
    image: str
    was_held: bool
    repromoted: tuple[str, ...]  # digests of rolled-back builds allowed again (pending jobs)
    refused: tuple[str, ...]  # digests of rolled-back builds that stay refused


def resume(runner: Runner, name: str, *, repromote: bool = False) -> Resumed:
    """Let the fleet promote ``name`` again; with ``repromote`` also the build its last
    rollback took the tags from (its job becomes pending, so the next cycle stages and
    promotes it), provided nothing was promoted since that rollback."""
    store = runner.store
    with store.session() as session:
        image = store.image(session, name)
        was_held = image.held
        refused = tuple(str(job.digest) for job in session.scalars(select(Job).where(
            Job.image_id == image.id, Job.state == JobState.ROLLED_BACK
        ).order_by(Job.id)))  # fmt: skip
        again = _last_rolled_back(store, session, image) if repromote else None
        if not was_held and again is None:
            return Resumed(name, False, (), refused)
        image.held = False
        image.replan = True  # the next check plans it even if nothing else changed
        allowed: tuple[str, ...] = ()
        if again is not None:
            store.advance(session, again, JobState.PENDING, error=None)
            allowed = (str(again.digest),)
        store.add_event(
            session, EventKind.RESUMED,
            f"{name}: resumed; promotions allowed" + (
                f", again of {allowed[0][:19]}" if allowed else ""),
            image=image, data={"repromoted": list(allowed)},
        )  # fmt: skip
    return Resumed(name, was_held, allowed, tuple(d for d in refused if d not in allowed))


def _last_rolled_back(store: Store, session: Session, image: Image) -> Job:
    """The job of the build the image's last rollback took the tags from; a FleetError when
    there is none, or when another build was promoted since (re-promoting the rolled-back
    one would move the tags back to an older build)."""
    events = store.events(session, image=image, kinds=[EventKind.ROLLED_BACK])
    if not events:
        raise FleetError(f"{image.name}: never rolled back: nothing to re-promote")
    data = events[-1].data
    if image.published_digest != data.get("after"):
        raise FleetError(
            f"{image.name}: {str(image.published_digest)[:19]} was promoted after the last "
            "rollback: nothing to re-promote"
        )
    job = session.scalars(select(Job).where(
        Job.image_id == image.id, Job.digest == data.get("before"),
        Job.state == JobState.ROLLED_BACK,
    )).first()  # fmt: skip
    if job is None:
        raise FleetError(
            f"{image.name}: {str(data.get('before'))[:19]} was already allowed again"
        )
    return job
