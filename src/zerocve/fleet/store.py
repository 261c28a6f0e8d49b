"""The fleet's state store: open (and migrate) it, and the operations every step shares.

An SQLite file under the state dir by default; PostgreSQL by URL (``postgresql://…``, driven
by psycopg 3). Opening runs the Alembic migrations packaged in ``zerocve.fleet.migrations``,
one opener at a time (a file lock beside an SQLite file, an advisory lock on PostgreSQL).

Every change happens inside ``Store.session()``, one transaction: a step records its outcome
and its event together or not at all. Database errors become one ``StoreError`` line.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from zerocve.errors import FleetError, StoreError, UsageError
from zerocve.fleet.changelog import Seen
from zerocve.fleet.config import Fleet
from zerocve.fleet.migrations import HEAD
from zerocve.fleet.models import (
    DigestRecord,
    Event,
    EventKind,
    FixSeen,
    Image,
    ImagePackage,
    Job,
    JobState,
    LockRecord,
    VersionSeen,
)
from zerocve.fleet.plan import Indexed, indexed
from zerocve.lock import Lock, dumps_lock

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_STORE_NAME = "fleet.sqlite"
_PG_MIGRATION_LOCK = 0x7A65726F  # "zero": the advisory lock key of the migration step

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Published:
    """What an image's published digest was built from."""

    spec_digest: str | None  # its lock's (ImageSpec.resolution_digest())
    build_spec: str | None  # DigestRecord.build_spec; None: not recorded


# Which state a job may move to from which: forward through the steps, to failed or skipped
# from any live state, from failed back to pending (retry when something changed again), from
# promoted to rolled-back (the operator's rollback) and from there back to pending (resume
# --repromote).
_NEXT: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.LOCKED}),
    JobState.LOCKED: frozenset({JobState.BUILT}),
    JobState.BUILT: frozenset({JobState.PUSHED_STAGING}),
    JobState.PUSHED_STAGING: frozenset({JobState.STAGED}),
    JobState.STAGED: frozenset({JobState.PROMOTED}),
    JobState.PROMOTED: frozenset({JobState.ROLLED_BACK}),
    JobState.FAILED: frozenset({JobState.PENDING}),
    JobState.SKIPPED: frozenset({JobState.PENDING}),
    JobState.ROLLED_BACK: frozenset({JobState.PENDING}),
}
_ENDS = frozenset({JobState.FAILED, JobState.SKIPPED})


def allowed(current: JobState, to: JobState) -> bool:
    """Whether a job in ``current`` may be moved to ``to``."""
    return to in _NEXT[current] or (to in _ENDS and not current.terminal)


def store_url(given: str | None, state_dir: Path) -> str:
    """The SQLAlchemy URL of ``--store``: ``postgresql://…`` (psycopg 3), ``sqlite:///PATH``,
    or by default ``STATE_DIR/fleet.sqlite``."""
    if given is None:
        return f"sqlite:///{state_dir / DEFAULT_STORE_NAME}"
    try:
        url = make_url(given)
    except ArgumentError:
        raise UsageError(
            f"--store {given!r}: not a URL; give postgresql://USER@HOST/DB or sqlite:///PATH"
        ) from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername == "sqlite" and url.database:
        return given
    raise UsageError(
        f"--store {url.render_as_string()!r}: give postgresql://USER@HOST/DB or sqlite:///PATH"
    )


def lock_digest(lock: Lock) -> str:
    """``sha256:…`` of the lock file's exact bytes: the identity of a rebuild's target."""
    return "sha256:" + hashlib.sha256(dumps_lock(lock).encode()).hexdigest()


def _display(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: the daemon writes while `fleet status` reads; a writer waits for another writer
    # instead of failing at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """An open, migrated store. ``clock`` gives the times recorded."""

    def __init__(self, engine: Engine, clock: Clock = _utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, clock: Clock = _utc_now) -> Store:
        """Connect to ``url`` (see ``store_url``) and bring its schema to the newest
        migration."""
        where = _display(url)
        parsed = make_url(url)
        if parsed.drivername == "sqlite" and parsed.database:
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"{parsed.database}: cannot create the store: {e.strerror}"
                ) from e
        try:
            engine = create_engine(url)
        except (ArgumentError, ImportError) as e:
            raise StoreError(f"{where}: cannot use this store: {e}") from e
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, clock)
        try:
            store._migrate()
        except SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(f"{where}: {_reason(e)}") from e
        except BaseException:
            engine.dispose()
            raise
        return store

    def revision(self) -> str | None:
        """The schema's Alembic revision; None for an empty database."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def _migrate(self) -> None:
        if self.revision() == HEAD:
            return  # the usual case, and cheap: a no-change cycle opens the store
        # Alembic costs a second of imports on a loaded machine: only when migrating.
        from alembic import command
        from alembic.config import Config

        with self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database:
            yield
            return
        with open(f"{database}.migrate.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, *, commit: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends (rolled back instead for a dry run,
        ``commit`` False), rolled back when it raises."""
        try:
            with self._sessions.begin() as session:
                yield session
                if not commit:
                    session.rollback()
        except SQLAlchemyError as e:
            raise StoreError(f"{_display(str(self.engine.url))}: {_reason(e)}") from e

    # -- images ----------------------------------------------------------------------------

    def sync_images(self, session: Session, fleet: Fleet) -> dict[str, Image]:
        """The fleet's images in the store, added or updated from the fleet file (spec path,
        repository, tags); images no longer in the file are kept, with their history."""
        existing = {i.name: i for i in session.scalars(select(Image))}
        now = self.clock()
        result: dict[str, Image] = {}
        for entry in fleet.images:
            image = existing.get(entry.name)
            if image is None:
                image = Image(
                    name=entry.name,
                    spec_path=str(entry.spec),
                    repository=entry.repository,
                    tags=list(entry.tags),
                    held=False,
                    replan=True,
                    created_at=now,
                )
                session.add(image)
                session.flush()
                self.add_event(session, EventKind.IMAGE_ADDED, f"{entry.name} added", image=image)
            else:
                image.spec_path = str(entry.spec)
                image.repository = entry.repository
                image.tags = list(entry.tags)
            result[entry.name] = image
        return result

    def find_image(self, session: Session, name: str) -> Image | None:
        return session.scalars(select(Image).where(Image.name == name)).one_or_none()

    def image(self, session: Session, name: str) -> Image:
        found = self.find_image(session, name)
        if found is None:
            raise FleetError(f"no image named {name!r} in the store; run `zerocve fleet check`")
        return found

    # -- locks, digests and the package index ----------------------------------------------

    def record_lock(self, session: Session, image: Image, lock: Lock) -> LockRecord:
        """The stored lock with this content (stored now if new): idempotent."""
        digest = lock_digest(lock)
        found = session.scalars(
            select(LockRecord).where(LockRecord.image_id == image.id, LockRecord.digest == digest)
        ).one_or_none()
        if found is not None:
            return found
        record = LockRecord(image_id=image.id, digest=digest, content=dumps_lock(lock),
                            spec_digest=lock.spec, created_at=self.clock())  # fmt: skip
        session.add(record)
        session.flush()
        return record

    def published_lock(self, session: Session, image: Image) -> Lock | None:
        """The lock the published digest was built from, if the store knows it."""
        if image.published_digest is None:
            return None
        record = session.scalars(
            select(LockRecord)
            .join(DigestRecord, DigestRecord.lock_id == LockRecord.id)
            .where(DigestRecord.image_id == image.id,
                   DigestRecord.digest == image.published_digest)
        ).one_or_none()  # fmt: skip
        return None if record is None else Lock.model_validate_json(record.content)

    def published_specs(self, session: Session) -> dict[int, Published]:
        """Image id → what its published digest was built from, for the images whose
        published digest has a lock in the store; no lock content is read."""
        rows = session.execute(
            select(Image.id, LockRecord.spec_digest, DigestRecord.build_spec)
            .join(DigestRecord, (DigestRecord.image_id == Image.id)
                  & (DigestRecord.digest == Image.published_digest))
            .join(LockRecord, LockRecord.id == DigestRecord.lock_id)
        )  # fmt: skip
        return {image_id: Published(spec, built) for image_id, spec, built in rows}

    def record_digest(
        self, session: Session, image: Image, digest: str, **fields: Any
    ) -> DigestRecord:
        """The row of ``digest`` for ``image``, created if new; ``fields`` (size, lock_id,
        bytes_pushed, packages, fixable, open, pushed_at, promoted_at, build_spec) are set
        on it."""
        record = session.scalars(
            select(DigestRecord).where(
                DigestRecord.image_id == image.id, DigestRecord.digest == digest
            )
        ).one_or_none()
        if record is None:
            record = DigestRecord(image_id=image.id, digest=digest, created_at=self.clock())
            session.add(record)
        for key, value in fields.items():
            setattr(record, key, value)
        session.flush()
        return record

    def digest(self, session: Session, image: Image, digest: str) -> DigestRecord | None:
        return session.scalars(
            select(DigestRecord).where(
                DigestRecord.image_id == image.id, DigestRecord.digest == digest
            )
        ).one_or_none()

    def set_package_index(self, session: Session, image: Image, lock: Lock) -> None:
        """Make ``lock`` the one the package → image index holds for ``image``."""
        session.query(ImagePackage).filter(ImagePackage.image_id == image.id).delete()
        session.add_all(
            ImagePackage(image_id=image.id, arch=row.arch, name=row.name,
                         architecture=row.architecture, version=row.version, source=row.source,
                         source_version=row.source_version)
            for row in indexed(image.name, lock)
        )  # fmt: skip
        session.flush()

    def indexed_versions(self, session: Session) -> set[tuple[str, str, str]]:
        """Every distinct (name, architecture, version) the index holds: what the planner
        compares with the versions offered, before reading rows of the moved names only."""
        query = select(ImagePackage.name, ImagePackage.architecture, ImagePackage.version)
        return {(name, arch, version) for name, arch, version in session.execute(query.distinct())}

    def indexed(
        self, session: Session, *, names: Iterable[str] = (), sources: Iterable[str] = ()
    ) -> list[Indexed]:
        """The index rows whose binary name is one of ``names`` or whose source is one of
        ``sources``, with their image's name."""
        names, sources = sorted(set(names)), sorted(set(sources))
        if not names and not sources:
            return []
        query = (
            select(Image.name, ImagePackage.arch, ImagePackage.name, ImagePackage.architecture,
                   ImagePackage.version, ImagePackage.source, ImagePackage.source_version)
            .join(Image, Image.id == ImagePackage.image_id)
            .where(ImagePackage.name.in_(names) | ImagePackage.source.in_(sources))
        )  # fmt: skip
        return [Indexed(*row) for row in session.execute(query)]

    # -- first-seen times -----------------------------------------------------------------

    def versions_first_seen(
        self, session: Session, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Seen]:
        """(source, source version) → when any binary of it first appeared in a watched
        repository (the earliest, over repositories and architectures)."""
        return _earliest(session, VersionSeen, VersionSeen.source, VersionSeen.source_version,
                         wanted)  # fmt: skip

    def fixes_first_seen(
        self, session: Session, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Seen]:
        """(source, vulnerability) → when the advisory data first named a fixed version."""
        return _earliest(session, FixSeen, FixSeen.source, FixSeen.vulnerability, wanted)

    # -- jobs ------------------------------------------------------------------------------

    def ensure_job(
        self,
        session: Session,
        image: Image,
        target_lock_digest: str,
        reason: dict[str, Any],
        *,
        lock_id: int | None = None,
    ) -> Job:
        """The job rebuilding ``image`` towards that lock: the existing one (planning the
        same change twice is one job; a failed or skipped one is left as it is, to be
        retried with ``advance(…, PENDING)`` only when something changed again) or a new
        pending one, with the target lock when the planner already resolved it."""
        found = self.find_job(session, image, target_lock_digest)
        if found is not None:
            return found
        now = self.clock()
        job = Job(
            image_id=image.id,
            target_lock_digest=target_lock_digest,
            state=JobState.PENDING,
            reason=reason,
            lock_id=lock_id,
            result={},
            bytes_pushed=0,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        self.add_event(
            session, EventKind.PLANNED, f"{image.name}: rebuild planned", image=image, job=job,
            data=reason,
        )  # fmt: skip
        return job

    def find_job(self, session: Session, image: Image, target_lock_digest: str) -> Job | None:
        """The job rebuilding ``image`` towards that target key, if one was planned."""
        return session.scalars(
            select(Job).where(
                Job.image_id == image.id, Job.target_lock_digest == target_lock_digest
            )
        ).one_or_none()

    def latest_job(self, session: Session, image: Image) -> Job | None:
        """The job planned last for ``image``: what its rebuilds stand at now."""
        return session.scalars(
            select(Job).where(Job.image_id == image.id).order_by(Job.id.desc()).limit(1)
        ).first()

    def advance(self, session: Session, job: Job, to: JobState, **fields: Any) -> Job:
        """Move ``job`` (as last read, possibly in another session) to ``to`` with ``fields``
        (lock_id, digest, bytes_pushed, result, error…) set, and log it; returns the job as
        this session sees it. Compare-and-set on the state read: two workers cannot both take
        a step. A move the state machine forbids is a StoreError."""
        job_id, current, attempts = job.id, job.state, job.attempts
        if not allowed(current, to):
            raise StoreError(f"job {job_id}: cannot move from {current} to {to}")
        values = {"state": to, "updated_at": self.clock(), **fields}
        if to is JobState.PENDING:
            values["attempts"] = attempts + 1
        moved = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == current)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 1) != 1:
            raise StoreError(f"job {job_id}: moved from {current} by someone else")
        here = session.get(Job, job_id)
        assert here is not None  # the UPDATE above matched it
        session.refresh(here)
        self.add_event(
            session, EventKind.JOB_STATE, f"job {job_id}: {current} → {to}",
            image_id=here.image_id, job=here, data={"from": str(current), "to": str(to)},
        )  # fmt: skip
        return here

    def jobs(self, session: Session, *states: JobState) -> list[Job]:
        query = select(Job).order_by(Job.id)
        if states:
            query = query.where(Job.state.in_(states))
        return list(session.scalars(query))

    # -- events ----------------------------------------------------------------------------

    def add_event(
        self,
        session: Session,
        kind: EventKind,
        message: str,
        *,
        image: Image | None = None,
        image_id: int | None = None,
        job: Job | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        record = Event(
            at=self.clock(),
            kind=str(kind),
            image_id=image.id if image is not None else image_id,
            job_id=job.id if job is not None else None,
            message=message,
            data=data or {},
        )
        session.add(record)
        session.flush()
        return record

    def events(
        self, session: Session, *, image: Image | None = None, kinds: Sequence[EventKind] = ()
    ) -> list[Event]:
        """Events oldest first, of one image and/or some kinds."""
        query = select(Event).order_by(Event.id)
        if image is not None:
            query = query.where(Event.image_id == image.id)
        if kinds:
            query = query.where(Event.kind.in_([str(k) for k in kinds]))
        return list(session.scalars(query))

    def last_event(self, session: Session, image: Image) -> Event | None:
        return session.scalars(
            select(Event).where(Event.image_id == image.id).order_by(Event.id.desc()).limit(1)
        ).first()


def _earliest(
    session: Session,
    model: type[VersionSeen] | type[FixSeen],
    first: InstrumentedAttribute[str],
    second: InstrumentedAttribute[str],
    wanted: Iterable[tuple[str, str]],
) -> dict[tuple[str, str], Seen]:
    """The earliest first-seen row of ``model`` per (first, second) pair asked for."""
    result: dict[tuple[str, str], Seen] = {}
    for a, b in set(wanted):
        row = session.execute(
            select(model.first_seen, model.baseline)
            .where(first == a, second == b)
            .order_by(model.first_seen)
            .limit(1)
        ).first()
        if row is not None:
            result[(a, b)] = Seen(row[0], row[1])
    return result


def _reason(error: SQLAlchemyError) -> str:
    """The driver's own first line, without SQLAlchemy's statement dump and links."""
    original = getattr(error, "orig", None)
    text_ = str(original if original is not None else error).strip().splitlines()
    return text_[0] if text_ else type(error).__name__
