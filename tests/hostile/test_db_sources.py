"""Updating one feed never drops another: the advisory DB keeps every source it was given,
an update re-reads only the sources it names, and removing one is explicit. With the real
OSV export (31,332 records) and the tracker fixture, through the real command line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_zerocve

from conftest import TRACKER
from support.data import OSV_ZIP
from zerocve.vuln import db

pytestmark = pytest.mark.skipif(not OSV_ZIP.is_file(), reason=f"{OSV_ZIP} not present")


@pytest.fixture(scope="module")
def osv_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DB built by `zerocve db update --osv` from the whole shared export."""
    path = tmp_path_factory.mktemp("osv-db") / "advisories.sqlite"
    done = run_zerocve("db", "update", "--osv", str(OSV_ZIP), "--db", str(path))
    assert done.returncode == 0, done.stderr
    return path


def _copy(path: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "db" / "advisories.sqlite"
    dest.parent.mkdir()
    shutil.copyfile(path, dest)
    return dest


def _counts(path: Path) -> dict[str, int]:
    return {s.source.kind: s.advisories for s in db.status(path).sources}


def _openssl_rows(path: Path) -> dict[str, int]:
    with db.open_db(path) as advisories:
        rows = advisories.affected(["bookworm"], ["openssl"])
    return {feed: sum(r.feed == feed for r in rows) for feed in ("osv", "debian-tracker")}


def test_tracker_update_keeps_the_osv_records(osv_db: Path, tmp_path: Path) -> None:
    path = _copy(osv_db, tmp_path)
    before = _counts(path)
    assert before == {"osv": 31_332}
    osv_rows = _openssl_rows(path)["osv"]
    done = run_zerocve("db", "update", "--tracker", str(TRACKER), "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert "31332 osv records (kept)" in done.stdout
    assert _counts(path) == {"osv": 31_332, "debian-tracker": 13}
    assert _openssl_rows(path) == {"osv": osv_rows, "debian-tracker": 4}
    listed = run_zerocve("db", "status", "--db", str(path), env={**os.environ, "COLUMNS": "200"})
    assert listed.returncode == 0 and "osv" in listed.stdout and "debian-tracker" in listed.stdout


def test_only_named_sources_are_read_again(tmp_path: Path) -> None:
    # Two OSV feeds (halves of the real export) and the tracker; the first half's file is
    # then replaced: naming only the tracker must not read it, naming nothing reads all.
    halves = [tmp_path / "first.zip", tmp_path / "second.zip"]
    with zipfile.ZipFile(OSV_ZIP) as src:
        names = [n for n in src.namelist() if "openssl" in n or n.startswith("CVE-2024-")]
        for index, half in enumerate(halves):
            with zipfile.ZipFile(half, "w") as z:
                for name in names[index::2]:
                    z.writestr(name, src.read(name))
    path = tmp_path / "advisories.sqlite"
    for source in (["--osv", str(halves[0]), "--osv", str(halves[1])], ["--tracker", str(TRACKER)]):
        assert run_zerocve("db", "update", *source, "--db", str(path)).returncode == 0
    counts = [s.advisories for s in db.status(path).sources]
    with zipfile.ZipFile(OSV_ZIP) as src, zipfile.ZipFile(halves[0], "w") as z:
        z.writestr("CVE-2024-0727.json", src.read("CVE-2024-0727.json"))
    assert run_zerocve("db", "update", "--tracker", str(TRACKER), "--db", str(path)).returncode == 0
    assert [s.advisories for s in db.status(path).sources] == counts  # nothing re-read
    changed = run_zerocve("db", "update", "--tracker", str(TRACKER), "--osv", str(halves[0]),
                          "--db", str(path))
    assert changed.returncode == 0, changed.stderr
    assert [s.advisories for s in db.status(path).sources] == [1, counts[1], counts[2]]


def test_remove_is_explicit_and_keeps_the_others(osv_db: Path, tmp_path: Path) -> None:
    path = _copy(osv_db, tmp_path)
    assert run_zerocve("db", "update", "--tracker", str(TRACKER), "--db", str(path)).returncode == 0
    osv_rows = _openssl_rows(path)["osv"]
    done = run_zerocve("db", "remove", "debian-tracker", "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert _counts(path) == {"osv": 31_332}
    assert _openssl_rows(path) == {"osv": osv_rows, "debian-tracker": 0}


def test_remove_refuses_unknown_and_last(osv_db: Path, tmp_path: Path) -> None:
    path = _copy(osv_db, tmp_path)
    unknown = run_zerocve("db", "remove", str(tmp_path / "nothing.zip"), "--db", str(path))
    assert unknown.returncode == 2
    assert "no source" in one_error_line(unknown)
    last = run_zerocve("db", "remove", str(OSV_ZIP), "--db", str(path))
    assert last.returncode == 3
    assert "would leave no advisory source" in one_error_line(last)
    assert _counts(path) == {"osv": 31_332}


def test_db_of_an_older_schema_keeps_its_sources(tmp_path: Path) -> None:
    # A DB written by an older zerocve cannot have its rows copied: its sources are read again
    # from where they were recorded, never dropped.
    path = tmp_path / "advisories.sqlite"
    db.update([db.FeedSource.of("debian-tracker", TRACKER)], path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    small = tmp_path / "small.zip"
    with zipfile.ZipFile(OSV_ZIP) as src, zipfile.ZipFile(small, "w") as z:
        z.writestr("CVE-2024-0727.json", src.read("CVE-2024-0727.json"))
    stats = db.update([db.FeedSource.of("osv", small)], path)
    assert [(s.source.kind, s.refreshed) for s in stats.sources] == [
        ("debian-tracker", True), ("osv", True)
    ]
    assert _counts(path) == {"debian-tracker": 13, "osv": 1}
