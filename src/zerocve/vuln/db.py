"""The local advisory DB: one SQLite file built from OSV and the Debian tracker.

Location: the ``path`` arguments below (``Settings.db_path``: ``--db PATH``, else
``$ZEROCVE_DB``, else ``<cache dir>/db/advisories.sqlite``). URL feeds are cached beside it
in ``downloads/``.

The DB keeps every source it has been given: an update re-reads the sources it names (all
of them when it names none) and copies the others' rows from the previous DB unchanged, so
``db update --tracker FILE`` after ``db update --osv ZIP`` keeps the OSV records; only
``remove`` drops a source. An update never modifies the DB in place: it is built in a
temporary file in the same directory and swapped in with ``os.replace``, so a killed or
failed update leaves the previous DB as it was. Readers open the file read-only and
``immutable`` (no locking, nothing written) for the same reason. Unchanged inputs (same
content hash for files, a 304 for URLs) mean no rebuild at all.

Schema: ``affected`` holds one row per (release, source package, vulnerability, feed
range), indexed by (release, package) so a scan fetches everything it needs in one query
per release; ``vuln`` holds descriptions and CVSS vectors once per (id, source);
``alias`` links ids (CVE ↔ DSA/DLA, GHSA...) per source; ``suite_version`` holds the
tracker's view of the archive (suite → version) once per (release, package), not once per
issue. Every row names its source, so one source's rows can be copied or dropped alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from zerocve.errors import AdvisoryError, UsageError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.retry import DEFAULT_RETRY, RetryPolicy
from zerocve.vuln.feeds.fetch import fetch, is_url, remove_leftovers
from zerocve.vuln.feeds.interface import Advisory, Affected, Feed
from zerocve.vuln.model import Cvss

if TYPE_CHECKING:  # a scan only reads the DB: httpx is for `db update`
    import httpx

SCHEMA_VERSION = "3"
FeedKind = Literal["osv", "debian-tracker"]

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE source (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL,
    fingerprint TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
    imported_at TEXT NOT NULL, advisories INTEGER NOT NULL
);
CREATE TABLE vuln (
    id TEXT NOT NULL, source INTEGER NOT NULL, description TEXT NOT NULL, cvss TEXT NOT NULL,
    PRIMARY KEY (id, source)
) WITHOUT ROWID;
CREATE TABLE alias (
    vuln TEXT NOT NULL, alias TEXT NOT NULL, source INTEGER NOT NULL,
    PRIMARY KEY (vuln, alias, source)
) WITHOUT ROWID;
CREATE TABLE affected (
    release TEXT NOT NULL, package TEXT NOT NULL, vuln TEXT NOT NULL, source INTEGER NOT NULL,
    introduced TEXT, fixed TEXT, status TEXT NOT NULL, urgency TEXT NOT NULL,
    nodsa TEXT NOT NULL, nodsa_reason TEXT NOT NULL
);
CREATE TABLE suite_version (
    release TEXT NOT NULL, package TEXT NOT NULL, source INTEGER NOT NULL, suite TEXT NOT NULL,
    version TEXT NOT NULL, PRIMARY KEY (release, package, source, suite)
) WITHOUT ROWID;
"""

# A DSA/DLA record names the CVEs it fixes; where those CVEs have rows of their own for the
# same release and package, the advisory's rows would count the same issue twice, so they
# are dropped and the advisory id lives on as an alias of each CVE.
_FOLD_ADVISORIES = (
    """INSERT OR IGNORE INTO alias (vuln, alias, source)
    SELECT alias, vuln, source FROM alias WHERE vuln NOT LIKE 'CVE-%' AND alias LIKE 'CVE-%'""",
    "CREATE INDEX affected_by_package ON affected (release, package)",
    """DELETE FROM affected WHERE vuln NOT LIKE 'CVE-%' AND EXISTS (
    SELECT 1 FROM alias a JOIN affected c ON c.vuln = a.alias
    WHERE a.vuln = affected.vuln AND c.release = affected.release
      AND c.package = affected.package AND c.source = affected.source)""",
)


@dataclass(frozen=True)
class FeedSource:
    """One input to the DB: a feed kind and a path or http(s) URL."""

    kind: FeedKind
    location: str

    @classmethod
    def of(cls, kind: FeedKind, location: str | Path) -> FeedSource:
        """Local paths are made absolute so the recorded sources work from any directory."""
        text = str(location)
        return cls(kind, text if is_url(text) else str(Path(text).expanduser().resolve()))


@dataclass(frozen=True)
class SourceStats:
    source: FeedSource
    fingerprint: str
    etag: str
    changed: bool  # differs from what the previous DB was built from
    advisories: int  # records imported, or kept (0 when nothing was rebuilt)
    refreshed: bool = True  # False: not named by this update, its rows were kept as they were


@dataclass(frozen=True)
class UpdateStats:
    path: Path
    rebuilt: bool  # False: every input was unchanged and nothing was done
    sources: tuple[SourceStats, ...]
    rows: int  # affected rows in the DB now (0 when not rebuilt)
    seconds: float
    size: int  # bytes of the DB file


@dataclass(frozen=True)
class SourceStatus:
    source: FeedSource
    fingerprint: str
    etag: str
    last_modified: str
    imported_at: str
    advisories: int
    per_release: tuple[tuple[str, int], ...]  # (codename, affected package/issue pairs)


@dataclass(frozen=True)
class DbStatus:
    path: Path
    built_at: str
    size: int
    sources: tuple[SourceStatus, ...]


class AffectedRow(NamedTuple):  # NamedTuple: as for Affected, one per row a scan reads
    """One stored range, with the id it is about and the feed that said so."""

    vuln: str
    feed: str
    affected: Affected


@dataclass(frozen=True)
class VulnDetails:
    """What is known about one id, merged over feeds (tracker text first)."""

    id: str
    description: str
    cvss: tuple[Cvss, ...]
    aliases: tuple[str, ...]


class AdvisoryDB:
    """A read-only view of a built DB; use ``open_db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise AdvisoryError(
                f"no advisory DB at {path}: run `zerocve db update --osv PATH|URL` first"
            )
        try:
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
            self._feeds = dict(self._conn.execute("SELECT id, kind FROM source"))
        except sqlite3.Error as e:
            raise AdvisoryError(f"{path}: not a readable advisory DB ({e}); rebuild it") from e
        if meta.get("schema") != SCHEMA_VERSION:
            self._conn.close()
            raise AdvisoryError(
                f"{path}: built by another zerocve version; run `zerocve db update`"
            )
        self.built_at = meta.get("built_at", "")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AdvisoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def affected(self, releases: Sequence[str], packages: Collection[str]) -> list[AffectedRow]:
        """Every stored range for these source packages in these releases."""
        names = sorted(set(packages))
        rows: list[AffectedRow] = []
        rel_marks = ",".join("?" * len(releases))
        for start in range(0, len(names), 500):  # keep under SQLite's parameter limit
            chunk = names[start : start + 500]
            where = f" WHERE release IN ({rel_marks}) AND package IN ({','.join('?' * len(chunk))})"
            listed: dict[tuple[str, str, int], list[tuple[str, str]]] = {}
            for rel, pkg, src, suite, version in self._conn.execute(
                "SELECT release, package, source, suite, version FROM suite_version" + where,
                (*releases, *chunk),
            ):
                listed.setdefault((rel, pkg, src), []).append((suite, version))
            # One tuple per package, shared by its rows (thousands of them for a large scan).
            suites = {key: tuple(pairs) for key, pairs in listed.items()}
            query = (
                "SELECT release, package, vuln, source, introduced, fixed, status, urgency,"
                " nodsa, nodsa_reason FROM affected" + where
            )
            for rel, pkg, vuln, src, intro, fixed, status, urg, nodsa, reason in self._conn.execute(
                query, (*releases, *chunk)
            ):
                # Positional, in Affected's field order.
                affected = Affected(rel, pkg, intro, fixed, status, urg, nodsa, reason,
                                    suites.get((rel, pkg, src), ()))
                rows.append(AffectedRow(vuln, self._feeds[src], affected))
        return rows

    def has_release(self, releases: Sequence[str]) -> bool:
        """Whether any feed holds data for one of these release keys: without any, a scan
        of that release would find nothing and mean nothing."""
        marks = ",".join("?" * len(releases))
        query = f"SELECT 1 FROM affected WHERE release IN ({marks}) LIMIT 1"
        return self._conn.execute(query, tuple(releases)).fetchone() is not None

    def fixed_versions(self, release: str) -> dict[str, list[str]]:
        """Every fixed version stored for each source package of ``release``."""
        result: dict[str, list[str]] = {}
        for package, fixed in self._conn.execute(
            "SELECT package, fixed FROM affected WHERE release = ? AND fixed IS NOT NULL",
            (release,),
        ):
            result.setdefault(package, []).append(fixed)
        return result

    def fixes(self, release: str) -> list[tuple[str, str, str]]:
        """(source package, vulnerability, fixed version) of every fix stored for
        ``release``, sorted: what the fleet diffs to see when a fix first appeared."""
        return sorted(set(self._conn.execute(
            "SELECT package, vuln, fixed FROM affected WHERE release = ? AND fixed IS NOT NULL",
            (release,),
        )))  # fmt: skip

    def details(self, ids: Collection[str]) -> dict[str, VulnDetails]:
        """Descriptions, CVSS vectors and aliases for these ids."""
        wanted = sorted(set(ids))
        texts: dict[str, list[tuple[str, str]]] = {}
        cvss: dict[str, dict[str, Cvss]] = {}
        aliases: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for vid, src, text, vectors in self._conn.execute(
                f"SELECT id, source, description, cvss FROM vuln WHERE id IN ({marks})", chunk
            ):
                texts.setdefault(vid, []).append((self._feeds[src], text))
                for version, vector, score in json.loads(vectors):
                    cvss.setdefault(vid, {}).setdefault(vector, Cvss(version, vector, score))
            for vid, alias in self._conn.execute(
                f"SELECT DISTINCT vuln, alias FROM alias WHERE vuln IN ({marks}) ORDER BY alias",
                chunk,
            ):
                aliases.setdefault(vid, []).append(alias)
        result = {}
        for vid in wanted:
            ordered = sorted(texts.get(vid, []), key=lambda t: t[0] != "debian-tracker")
            result[vid] = VulnDetails(
                id=vid,
                description=next((t for _, t in ordered if t), ""),
                cvss=tuple(cvss.get(vid, {}).values()),
                aliases=tuple(aliases.get(vid, [])),
            )
        return result


def open_db(path: Path) -> AdvisoryDB:
    """Open the DB for reading (never touches the network)."""
    return AdvisoryDB(path)


def recorded_sources(path: Path) -> tuple[FeedSource, ...]:
    """The sources the DB at ``path`` was last built from (empty when there is none)."""
    return tuple(_previous(path).sources)


def status(path: Path) -> DbStatus:
    """Sources, import dates and counts of the DB at ``path``."""
    db_path = path
    with open_db(db_path) as db:
        conn = db._conn
        per_release: dict[int, list[tuple[str, int]]] = {}
        for src, rel, count in conn.execute(
            "SELECT source, release, COUNT(*) FROM affected GROUP BY source, release"
            " ORDER BY source, release"
        ):
            per_release.setdefault(src, []).append((rel, count))
        sources = tuple(
            SourceStatus(
                FeedSource(kind, loc), fp, etag, lm, at, n, tuple(per_release.get(sid, []))
            )
            for sid, kind, loc, fp, etag, lm, at, n in conn.execute(
                "SELECT id, kind, location, fingerprint, etag, last_modified, imported_at,"
                " advisories FROM source ORDER BY id"
            )
        )
        return DbStatus(db_path, db.built_at, db_path.stat().st_size, sources)


@dataclass(frozen=True)
class _Previous:
    source: FeedSource
    id: int  # its id in the previous DB, to copy its rows
    fingerprint: str
    etag: str
    last_modified: str
    advisories: int


@dataclass(frozen=True)
class _Recorded:
    """What the existing DB was built from, and whether its rows can be copied as they are
    (same schema) or its sources must be read again."""

    sources: dict[FeedSource, _Previous]
    copyable: bool


def _previous(path: Path) -> _Recorded:
    """The sources of the DB at ``path``, read from its ``source`` table whatever zerocve
    version wrote it (a DB of an older schema still says which sources to keep); empty when
    there is no readable DB (then everything is rebuilt)."""
    if not path.is_file():
        return _Recorded({}, False)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            rows = conn.execute(
                "SELECT id, kind, location, fingerprint, etag, last_modified, advisories"
                " FROM source ORDER BY id"
            ).fetchall()
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        finally:
            conn.close()
    except sqlite3.Error:
        return _Recorded({}, False)
    result = {}
    for sid, kind, location, fingerprint, etag, last_modified, advisories in rows:
        if kind in get_args(FeedKind):
            src = FeedSource(kind, location)
            result[src] = _Previous(src, sid, fingerprint, etag, last_modified, advisories)
    return _Recorded(result, meta.get("schema") == SCHEMA_VERSION)


@dataclass(frozen=True)
class _Input:
    source: FeedSource
    feed: Feed
    local: Path
    fingerprint: str
    etag: str
    last_modified: str


def _resolve(
    source: FeedSource,
    previous: _Previous | None,
    downloads: Path,
    client: httpx.Client | None,
    reporter: Reporter,
    retry: RetryPolicy,
) -> _Input:
    """Make ``source`` a local file and fingerprint it (a 304 keeps the old fingerprint)."""
    feed = _feed(source.kind)
    if not is_url(source.location):
        local = Path(source.location)
        if not local.exists():
            raise AdvisoryError(f"{local}: no such {source.kind} feed file or directory")
        return _Input(source, feed, local, feed.fingerprint(local), "", "")
    got = fetch(
        source.location,
        downloads,
        etag=previous.etag if previous else "",
        last_modified=previous.last_modified if previous else "",
        client=client,
        reporter=reporter,
        retry=retry,
    )
    if got.not_modified and previous:
        fingerprint = previous.fingerprint
    else:
        fingerprint = feed.fingerprint(got.path)
    return _Input(source, feed, got.path, fingerprint, got.etag, got.last_modified)


def _feed(kind: FeedKind) -> Feed:
    """The parser of ``kind``, imported here: the feeds' pydantic models are for updates."""
    if kind == "osv":
        from zerocve.vuln.feeds.osv import OsvFeed

        return OsvFeed()
    from zerocve.vuln.feeds.debian_tracker import DebianTrackerFeed

    return DebianTrackerFeed()


@contextlib.contextmanager
def _update_lock(db_path: Path) -> Iterator[None]:
    """One updater at a time per DB; while it is held, leftover build files are stale."""
    with (db_path.parent / ".update.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AdvisoryError(f"{db_path}: another `zerocve db update` is running") from None
        for stale in db_path.parent.glob(f".{db_path.name}.*.building"):
            stale.unlink(missing_ok=True)
        remove_leftovers(db_path.parent / "downloads")
        yield


def update(
    sources: Sequence[FeedSource],
    path: Path,
    *,
    reporter: Reporter = NULL_REPORTER,
    client: httpx.Client | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> UpdateStats:
    """Bring ``sources`` up to date in the DB at ``path`` (default: every recorded source),
    keeping every other recorded source as it is; URL feeds are fetched under ``retry``. Does
    nothing when every input is unchanged; otherwise builds a new DB aside and swaps it in.
    AdvisoryError (one line) on any bad input, DB left intact."""
    started = time.monotonic()
    db_path = _db_dir(path)
    with _update_lock(db_path):
        recorded = _previous(db_path)
        previous = recorded.sources
        named = list(dict.fromkeys(sources)) or list(previous)
        if not named:
            raise AdvisoryError(
                f"no advisory sources recorded in {db_path}: pass --osv PATH|URL "
                "(e.g. an OSV Debian all.zip) and/or --tracker PATH|URL (the Debian tracker JSON)"
            )
        wanted = list(dict.fromkeys([*previous, *named]))
        # Rows of another schema cannot be copied: such sources are read again.
        refresh = [s for s in wanted if s in named or not recorded.copyable]
        inputs = {
            s: _resolve(s, previous.get(s), db_path.parent / "downloads", client, reporter,
                        retry)
            for s in refresh
        }
        changed = {
            s: s not in previous or previous[s].fingerprint != i.fingerprint
            for s, i in inputs.items()
        }
        if recorded.copyable and not any(changed.values()):
            return UpdateStats(
                db_path,
                rebuilt=False,
                sources=tuple(
                    SourceStats(s, i.fingerprint, i.etag, False, 0) for s, i in inputs.items()
                ),
                rows=0,
                seconds=time.monotonic() - started,
                size=db_path.stat().st_size,
            )
        plan = [inputs.get(s) or previous[s] for s in wanted]
        counts, rows = _build(db_path, plan, reporter)
    return UpdateStats(
        db_path,
        rebuilt=True,
        sources=tuple(
            SourceStats(s.source, s.fingerprint, s.etag, changed.get(s.source, False), n,
                        refreshed=isinstance(s, _Input))
            for s, n in zip(plan, counts, strict=True)
        ),
        rows=rows,
        seconds=time.monotonic() - started,
        size=db_path.stat().st_size,
    )


def remove(selector: str, path: Path) -> tuple[FeedSource, ...]:
    """Drop the sources ``selector`` names (a kind, ``osv`` or ``debian-tracker``, or a
    recorded location) from the DB, keeping every other source's rows; returns what was
    removed. UsageError when nothing matches; AdvisoryError rather than leave no source."""
    db_path = _db_dir(path)
    with _update_lock(db_path):
        recorded = _previous(db_path)
        location = selector if is_url(selector) else str(Path(selector).expanduser().resolve())
        gone = [s for s in recorded.sources if selector == s.kind or location == s.location]
        if not gone:
            known = ", ".join(s.location for s in recorded.sources) or "none"
            raise UsageError(f"{db_path}: no source {selector!r} (recorded: {known})")
        kept = [p for s, p in recorded.sources.items() if s not in gone]
        if not kept:
            raise AdvisoryError(
                f"{db_path}: removing {selector!r} would leave no advisory source; "
                "delete the DB file instead"
            )
        if not recorded.copyable:
            raise AdvisoryError(
                f"{db_path}: built by another zerocve version; run `zerocve db update` first"
            )
        _build(db_path, kept, NULL_REPORTER)
    return tuple(gone)


def _db_dir(path: Path) -> Path:
    """The DB path, its directory created."""
    db_path = path
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdvisoryError(f"{db_path.parent}: cannot create DB directory: {e.strerror}") from e
    return db_path


def _build(
    db_path: Path, plan: Sequence[_Input | _Previous], reporter: Reporter
) -> tuple[list[int], int]:
    """Write a complete DB next to ``db_path`` and swap it in: an ``_Input`` is read, a
    ``_Previous`` source's rows are copied from the DB being replaced. Returns the advisory
    count per source and the number of affected rows."""
    fd, tmp_name = tempfile.mkstemp(
        dir=db_path.parent, prefix=f".{db_path.name}.", suffix=".building"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            # Nothing here needs crash safety: a failed build is thrown away whole.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.executescript(_SCHEMA)
            if any(isinstance(item, _Previous) for item in plan):
                # The update lock is held: nobody replaces the old DB while it is read.
                conn.execute("ATTACH DATABASE ? AS old", (f"{db_path.resolve().as_uri()}?mode=ro",))
            conn.execute("BEGIN")
            counts = [
                _copy(conn, sid, item) if isinstance(item, _Previous)
                else _ingest(conn, sid, item, reporter)
                for sid, item in enumerate(plan, 1)
            ]
            with reporter.task("indexing advisories"):
                for statement in _FOLD_ADVISORIES:
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("built_at", _now())],
            )
            conn.execute("COMMIT")
            (rows,) = conn.execute("SELECT COUNT(*) FROM affected").fetchone()
            if any(isinstance(item, _Previous) for item in plan):
                conn.execute("DETACH DATABASE old")
        finally:
            conn.close()
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp's 0600 would hide a shared $ZEROCVE_DB from other users
        os.replace(tmp, db_path)
        _fsync_dir(db_path.parent)
    except sqlite3.Error as e:
        raise AdvisoryError(f"{db_path}: cannot write advisory DB: {e}") from e
    except OSError as e:
        raise AdvisoryError(f"{db_path}: cannot write advisory DB: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return counts, rows


def _ingest(conn: sqlite3.Connection, sid: int, item: _Input, reporter: Reporter) -> int:
    count = 0
    batch: list[Advisory] = []
    for advisory in item.feed.records(item.local, reporter):
        batch.append(advisory)
        count += 1
        if len(batch) >= 2000:
            _insert(conn, sid, batch)
            batch.clear()
    _insert(conn, sid, batch)
    conn.execute(
        "INSERT INTO source VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sid,
            item.source.kind,
            item.source.location,
            item.fingerprint,
            item.etag,
            item.last_modified,
            _now(),
            count,
        ),
    )
    return count


# Every table with a ``source`` column, and its columns in order: what a kept source copies.
_SOURCE_TABLES = {
    "vuln": "id, ?, description, cvss",
    "alias": "vuln, alias, ?",
    "affected": "release, package, vuln, ?, introduced, fixed, status, urgency, nodsa,"
    " nodsa_reason",
    "suite_version": "release, package, ?, suite, version",
}


def _copy(conn: sqlite3.Connection, sid: int, previous: _Previous) -> int:
    """Copy a kept source's rows from the attached previous DB under its new id ``sid``."""
    conn.execute(
        "INSERT INTO source SELECT ?, kind, location, fingerprint, etag, last_modified,"
        " imported_at, advisories FROM old.source WHERE id = ?",
        (sid, previous.id),
    )
    for table, columns in _SOURCE_TABLES.items():
        conn.execute(
            f"INSERT INTO {table} SELECT {columns} FROM old.{table} WHERE source = ?",
            (sid, previous.id),
        )
    return previous.advisories


def _insert(conn: sqlite3.Connection, sid: int, advisories: Iterable[Advisory]) -> None:
    vulns: list[tuple[str, int, str, str]] = []
    aliases: list[tuple[str, str, int]] = []
    affected: list[tuple[object, ...]] = []
    suites: dict[tuple[str, str, int, str], str] = {}
    for adv in advisories:
        cvss = json.dumps([[c.version, c.vector, c.score] for c in adv.cvss])
        vulns.append((adv.id, sid, adv.description, cvss))
        aliases.extend((adv.id, alias, sid) for alias in adv.aliases)
        for a in adv.affected:
            affected.append(
                (
                    a.release,
                    a.package,
                    adv.id,
                    sid,
                    a.introduced,
                    a.fixed,
                    a.status,
                    a.urgency,
                    a.nodsa,
                    a.nodsa_reason,
                )
            )
            for suite, version in a.repositories:
                suites[(a.release, a.package, sid, suite)] = version
    # OR IGNORE/REPLACE: an id listed twice in one feed (or two feeds) is one vulnerability;
    # a package's suites are the same for each of its issues.
    conn.executemany("INSERT OR REPLACE INTO vuln VALUES (?, ?, ?, ?)", vulns)
    conn.executemany("INSERT OR IGNORE INTO alias VALUES (?, ?, ?)", aliases)
    conn.executemany("INSERT INTO affected VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", affected)
    conn.executemany(
        "INSERT OR REPLACE INTO suite_version VALUES (?, ?, ?, ?, ?)",
        [(*key, version) for key, version in suites.items()],
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


__all__ = [
    "AdvisoryDB",
    "AffectedRow",
    "DbStatus",
    "FeedSource",
    "SourceStats",
    "SourceStatus",
    "UpdateStats",
    "VulnDetails",
    "open_db",
    "recorded_sources",
    "remove",
    "status",
    "update",
]
