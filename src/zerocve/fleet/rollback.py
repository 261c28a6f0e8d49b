"""Rollback and hold: move an image's floating tags back to an earlier promoted digest and
keep the fleet from promoting it again until it is resumed. Both are events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from zerocve.errors import FleetError
from zerocve.fleet.cycle import Runner, repository_reference
from zerocve.fleet.models import DigestRecord, EventKind, LockRecord
from zerocve.fleet.promote import TagMove, move_tags
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
        data = {"before": current, "after": digest, "tags": [m.to_json() for m in moves]}
        store.add_event(session, EventKind.ROLLED_BACK,
                        f"{name}: {', '.join(tags)} back to {digest[:19]} from {current[:19]}",
                        image=image, data=data)
        store.add_event(session, EventKind.HELD,
                        f"{name}: held; no promotion until zerocve fleet resume {name}",
                        image=image)
    return RolledBack(name, current, digest, moves)


def resume(runner: Runner, name: str) -> bool:
    """Let the fleet promote ``name`` again; False when it was not held."""
    store = runner.store
    with store.session() as session:
        image = store.image(session, name)
        if not image.held:
            return False
        image.held = False
        image.replan = True  # the next check plans it even if nothing else changed
        store.add_event(session, EventKind.RESUMED, f"{name}: resumed; promotions allowed",
                        image=image)
    return True
