"""The fleet's state, as SQLAlchemy 2 typed models (SQLite or PostgreSQL; see ``store``).

    images ─┬─ locks            every lock resolved for an image, by the digest of its bytes
            ├─ digests          every image digest built, and the spec it was built from
            ├─ image_packages   the package → image index of the published (else newest) lock
            ├─ jobs             one rebuild per (image, target lock digest), a chain of states
            └─ events           append-only log (database triggers refuse UPDATE and DELETE)
    repository_snapshots        per (repository, suite): InRelease validators and digest seen
    index_snapshots             per Packages index: its digest seen
    versions_seen               first time each (binary) version was seen in a repository
    advisory_snapshots          per feed: fingerprint seen
    fixes_seen                  first time each (release, source, vulnerability) fix was seen

Times are timezone-aware UTC; SQLite stores them naive (see ``UTCDateTime``). Every schema
change is an Alembic migration in ``zerocve/fleet/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset: stored naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Constraint names are fixed so migrations can refer to them on both backends.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class JobState(StrEnum):
    """A rebuild's steps, in order; each is recorded once its work is done, so a restarted
    cycle continues from the last recorded state. ``failed``, ``skipped`` and ``rolled-back``
    are terminal too."""

    PENDING = "pending"  # planned: the image's lock would change
    LOCKED = "locked"  # the new lock is stored (jobs.lock_id)
    BUILT = "built"  # the image is built (jobs.digest); equal to the published one: skipped
    PUSHED_STAGING = "pushed-staging"  # pushed under the staging tag (jobs.bytes_pushed)
    STAGED = "staged"  # tests ran and the re-scan passed the gate (jobs.result)
    PROMOTED = "promoted"  # floating tags moved, staging tag removed
    FAILED = "failed"  # a step failed; jobs.error says why, the published tags are untouched
    SKIPPED = "skipped"  # nothing to do: same digest as published, or the image is held
    # Promoted, then rolled back by the operator: the planner does not plan this target
    # again (`fleet resume IMAGE --repromote` makes it pending once more). A string column
    # without a CHECK constraint: a new state needs no migration.
    ROLLED_BACK = "rolled-back"

    @property
    def terminal(self) -> bool:
        return self in (JobState.PROMOTED, JobState.FAILED, JobState.SKIPPED,
                        JobState.ROLLED_BACK)


class EventKind(StrEnum):
    IMAGE_ADDED = "image-added"
    REPOSITORY_CHANGED = "repository-changed"
    ADVISORIES_CHANGED = "advisories-changed"
    PLANNED = "planned"
    JOB_STATE = "job-state"  # a job moved to another state (data: from, to)
    PROMOTED = "promoted"  # data: the changelog
    STAGE_FAILED = "stage-failed"
    UNCHANGED = "unchanged"  # rebuilt to the published digest: nothing pushed
    ROLLED_BACK = "rolled-back"
    HELD = "held"
    RESUMED = "resumed"
    ERROR = "error"  # an operational failure (registry down, bad signature...)


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec_path: Mapped[str] = mapped_column(Text)
    repository: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]]
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # no automatic promotion
    # Plan it at the next check even if nothing changed (set when added, resumed...).
    replan: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # What the floating tags point to now (None: never promoted); its lock is that digest's.
    published_digest: Mapped[str | None] = mapped_column(String(160))
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LockRecord(Base):
    """A lock file's exact bytes, keyed by their SHA256 (``sha256:…``)."""

    __tablename__ = "locks"
    __table_args__ = (UniqueConstraint("image_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    digest: Mapped[str] = mapped_column(String(80))
    content: Mapped[str] = mapped_column(Text)
    # The lock's ``spec`` (ImageSpec.resolution_digest()): a check compares it with the spec
    # now without reading the content.
    spec_digest: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]


class DigestRecord(Base):
    """An image digest built for an image; ``promoted_at`` is when its tags last moved to it."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("image_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    digest: Mapped[str] = mapped_column(String(160))
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("locks.id"))
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes of its blobs
    bytes_pushed: Mapped[int] = mapped_column(BigInteger, default=0)
    packages: Mapped[int] = mapped_column(Integer, default=0)
    fixable: Mapped[int | None] = mapped_column(Integer)  # from its last scan
    open: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    pushed_at: Mapped[datetime | None]
    promoted_at: Mapped[datetime | None]
    # The validated spec it was built from (``zerocve.fleet.built_spec.as_built``), last
    # built; None: built before the store recorded it (migration 0004).
    build_spec: Mapped[str | None] = mapped_column(Text)


class ImagePackage(Base):
    """The package → image index: one row per package of an image's published lock."""

    __tablename__ = "image_packages"
    __table_args__ = (
        Index("ix_image_packages_name", "name"),
        Index("ix_image_packages_source", "source"),
    )

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32), primary_key=True)  # the image's
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    architecture: Mapped[str] = mapped_column(String(32), primary_key=True)  # the package's
    version: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(128))
    source_version: Mapped[str] = mapped_column(String(128))


class RepositorySnapshot(Base):
    """The last InRelease seen of one (repository, suite), and its HTTP validators."""

    __tablename__ = "repository_snapshots"
    __table_args__ = (UniqueConstraint("uri", "suite"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(128))
    release_sha256: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(Text, default="")
    last_modified: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class IndexSnapshot(Base):
    """The digest of one Packages index last diffed."""

    __tablename__ = "index_snapshots"
    __table_args__ = (UniqueConstraint("uri", "suite", "component", "architecture"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(128))
    component: Mapped[str] = mapped_column(String(128))
    architecture: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime]


class VersionSeen(Base):
    """When a binary package version first appeared in a watched repository. ``baseline``:
    it was already there when watching began, so its first-seen time is a lower bound."""

    __tablename__ = "versions_seen"
    __table_args__ = (
        UniqueConstraint("uri", "suite", "name", "architecture", "version"),
        Index("ix_versions_seen_source", "source", "source_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    architecture: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(128))
    source_version: Mapped[str] = mapped_column(String(128))
    first_seen: Mapped[datetime]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)


class AdvisorySnapshot(Base):
    """One advisory feed as last ingested."""

    __tablename__ = "advisory_snapshots"
    __table_args__ = (UniqueConstraint("kind", "location"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class FixSeen(Base):
    """When the advisory data first said ``vulnerability`` is fixed in ``source`` at
    ``fixed_version`` for ``release``; ``baseline`` as for ``VersionSeen``."""

    __tablename__ = "fixes_seen"
    __table_args__ = (
        UniqueConstraint("release", "source", "vulnerability", "fixed_version"),
        Index("ix_fixes_seen_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128))
    vulnerability: Mapped[str] = mapped_column(String(128))
    fixed_version: Mapped[str] = mapped_column(String(128))
    first_seen: Mapped[datetime]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    """One rebuild of one image towards one lock: the unit a worker runs, step by step. The
    (image, target lock digest) key makes planning idempotent: the same change planned twice
    is one job."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("image_id", "target_lock_digest"),
        Index("ix_jobs_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    target_lock_digest: Mapped[str] = mapped_column(String(80))
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    reason: Mapped[dict[str, Any]]  # the plan's explanation (packages, versions, CVEs)
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("locks.id"))
    digest: Mapped[str | None] = mapped_column(String(160))  # the image built
    bytes_pushed: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[dict[str, Any]]  # step outputs: test results, scan summary, changelog
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))  # who runs it now, if anyone
    heartbeat: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Event(Base):
    """The append-only log. ``kind`` is an ``EventKind``; ``data`` its details."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_image", "image_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
