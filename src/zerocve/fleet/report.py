"""What ``zerocve fleet status`` and ``history`` show, read from the store as typed rows. The
store alone answers: no registry, repository or scan is touched, so status is instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from zerocve.fleet.config import Fleet
from zerocve.fleet.models import EventKind, JobState
from zerocve.fleet.store import Store

# The events a history lists: what happened to the published image, not every job step.
HISTORY_KINDS = (
    EventKind.PROMOTED,
    EventKind.STAGE_FAILED,
    EventKind.UNCHANGED,
    EventKind.ROLLED_BACK,
    EventKind.HELD,
    EventKind.RESUMED,
    EventKind.ERROR,
)


@dataclass(frozen=True)
class LastEvent:
    at: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class FailedStaging:
    """The image's last rebuild failed staging: its tags stay where they were, and it is not
    planned again until something it is built from changes (as Renovate shows an update it
    is blocked on)."""

    job: int
    digest: str | None  # the build that was refused
    at: datetime
    reason: str  # the tests, gate or CVEs that failed, as the stage recorded them


@dataclass(frozen=True)
class ImageStatus:
    name: str
    repository: str
    tags: tuple[str, ...]
    digest: str | None  # what the floating tags point to; None: never promoted
    published_at: datetime | None
    age_seconds: float | None
    packages: int | None  # of the published image (None: not known)
    fixable: int | None  # CVEs with a fix in the repositories, at its last scan
    open: int | None  # CVEs with no fix yet, at its last scan
    held: bool
    last_event: LastEvent | None
    failed_staging: FailedStaging | None = None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str
    message: str
    data: dict[str, Any]  # for a promotion, the changelog (see zerocve.fleet.changelog)


def _last(store: Store, session: Session, image: Any) -> LastEvent | None:
    event = store.last_event(session, image)
    return None if event is None else LastEvent(event.at, event.kind, event.message)


def _failed_staging(store: Store, session: Session, image: Any) -> FailedStaging | None:
    job = store.latest_job(session, image)
    if job is None or job.state is not JobState.FAILED:
        return None
    return FailedStaging(job.id, job.digest, job.updated_at, job.error or "")


def fleet_status(store: Store, fleet: Fleet) -> list[ImageStatus]:
    """One row per image of the fleet file, in its order."""
    now = store.clock()
    rows = []
    with store.session() as session:
        for entry in fleet.images:
            image = store.find_image(session, entry.name)
            if image is None:
                rows.append(ImageStatus(entry.name, entry.repository, entry.tags, None, None,
                                        None, None, None, None, False, None))  # fmt: skip
                continue
            record = (
                store.digest(session, image, image.published_digest)
                if image.published_digest
                else None
            )
            published_at = image.published_at
            rows.append(
                ImageStatus(
                    name=image.name,
                    repository=image.repository,
                    tags=tuple(image.tags),
                    digest=image.published_digest,
                    published_at=published_at,
                    age_seconds=(now - published_at).total_seconds() if published_at else None,
                    packages=record.packages if record else None,
                    fixable=record.fixable if record else None,
                    open=record.open if record else None,
                    held=image.held,
                    last_event=_last(store, session, image),
                    failed_staging=_failed_staging(store, session, image),
                )
            )
    return rows


def image_history(store: Store, name: str) -> list[HistoryEntry]:
    """Promotions, failed stages, rollbacks, holds and errors of one image, oldest first."""
    with store.session() as session:
        image = store.image(session, name)
        return [
            HistoryEntry(e.at, e.kind, e.message, dict(e.data))
            for e in store.events(session, image=image, kinds=HISTORY_KINDS)
        ]
