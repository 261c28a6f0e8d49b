"""The fleet store on SQLite and on a real PostgreSQL server: migrations on open, images,
locks, digests, the package index, jobs as a state machine, the append-only event log."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from support.locks import make_lock
from zerocve.errors import StoreError, UsageError
from zerocve.fleet.config import parse_fleet
from zerocve.fleet.migrations import HEAD
from zerocve.fleet.models import Event, EventKind, Image, JobState
from zerocve.fleet.store import MIGRATIONS, Published, Store, allowed, lock_digest, store_url
from zerocve.lock import dumps_lock

TABLES = {
    "images", "locks", "digests", "image_packages", "repository_snapshots", "index_snapshots",
    "versions_seen", "advisory_snapshots", "fixes_seen", "jobs", "events", "alembic_version",
}  # fmt: skip


def _fleet(tmp_path: Path, *names: str, repository: str = "localhost:5000/team/{name}"):
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    for name in names:
        (specs / f"{name}.yaml").write_text("contents: {packages: [tzdata]}\n")
    text_ = f"images:\n  - spec: specs/*.yaml\n    repository: {repository}\n"
    return parse_fleet(text_, "fleet.yaml", tmp_path)


def test_open_migrates_to_head_and_reopening_keeps_data(store_location, clock, tmp_path):
    first = Store.open(store_location, clock=clock)
    assert TABLES <= set(inspect(first.engine).get_table_names())
    assert first.revision() == HEAD == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with first.session() as s:
        first.sync_images(s, _fleet(tmp_path, "python"))
    first.close()
    again = Store.open(store_location, clock=clock)
    with again.session() as s:
        assert [i.name for i in s.scalars(select(Image))] == ["python"]
    again.close()


def test_sync_images_adds_once_and_follows_the_fleet_file(store, tmp_path):
    fleet = _fleet(tmp_path, "python", "static")
    with store.session() as s:
        images = store.sync_images(s, fleet)
        assert images["python"].repository == "localhost:5000/team/python"
        assert images["python"].tags == ["latest"]
    moved = _fleet(tmp_path, "python", "static", repository="localhost:5000/other/{name}")
    with store.session() as s:
        store.sync_images(s, moved)
        added = store.events(s, kinds=[EventKind.IMAGE_ADDED])
        assert sorted(e.message for e in added) == ["python added", "static added"]
        assert store.image(s, "static").repository == "localhost:5000/other/static"


def test_unknown_image_is_one_line(store):
    with pytest.raises(Exception, match="no image named 'nope'") as err, store.session() as s:
        store.image(s, "nope")
    assert err.value.exit_code == 3


def test_times_come_back_as_aware_utc(store, clock, tmp_path):
    with store.session() as s:
        store.sync_images(s, _fleet(tmp_path, "python"))
    with store.session() as s:
        image = store.image(s, "python")
        assert image.created_at == clock.now and image.created_at.tzinfo is not None


def test_locks_are_stored_once_by_digest_and_index_the_packages(store, tmp_path):
    old = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.11-1", "openssl"))
    new = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.13-1", "openssl"))
    with store.session() as s:
        images = store.sync_images(s, _fleet(tmp_path, "python", "static"))
        python = images["python"]
        first = store.record_lock(s, python, old)
        assert store.record_lock(s, python, old).id == first.id
        assert store.record_lock(s, python, new).id != first.id
        assert first.digest == lock_digest(old) != lock_digest(new)
        store.record_digest(s, python, "sha256:" + "a" * 64, lock_id=first.id, size=10,
                            build_spec='{"spec":"as built"}')
        python.published_digest = "sha256:" + "a" * 64
        store.set_package_index(s, python, old)
        store.set_package_index(s, images["static"], make_lock(("tzdata", "2024a-0+deb12u1")))
    with store.session() as s:
        python = store.image(s, "python")
        assert store.published_lock(s, python) == old
        # static: never published
        assert store.published_specs(s) == {python.id: Published(old.spec, '{"spec":"as built"}')}
        assert {r.image for r in store.indexed(s, sources=["openssl"])} == {"python"}
        assert {(r.image, r.name) for r in store.indexed(s, names=["libc6", "tzdata"])} == {
            ("python", "libc6"), ("static", "tzdata")
        }  # fmt: skip
        assert store.indexed(s) == []
        store.set_package_index(s, python, new)
        rows = store.indexed(s, names=["libc6", "libssl3", "tzdata"])
        assert {(r.image, r.name, r.version, r.source) for r in rows} == {
            ("python", "libc6", "2.36-9", "glibc"), ("python", "libssl3", "3.0.13-1", "openssl"),
            ("static", "tzdata", "2024a-0+deb12u1", "tzdata"),
        }  # fmt: skip
        assert store.indexed_versions(s) == {
            ("libc6", "amd64", "2.36-9"), ("libssl3", "amd64", "3.0.13-1"),
            ("tzdata", "amd64", "2024a-0+deb12u1"),
        }  # fmt: skip


def test_a_job_is_keyed_by_image_and_target_lock(store, tmp_path):
    with store.session() as s:
        image = store.sync_images(s, _fleet(tmp_path, "python"))["python"]
        job = store.ensure_job(s, image, "sha256:" + "1" * 64, {"why": "openssl"})
        assert store.ensure_job(s, image, "sha256:" + "1" * 64, {"why": "again"}).id == job.id
        assert store.ensure_job(s, image, "sha256:" + "2" * 64, {}).id != job.id
        planned = store.events(s, kinds=[EventKind.PLANNED])
        assert len(planned) == 2 and planned[0].data == {"why": "openssl"}


def test_a_job_walks_its_states_in_order_and_logs_each(store, tmp_path):
    chain = [JobState.LOCKED, JobState.BUILT, JobState.PUSHED_STAGING, JobState.STAGED,
             JobState.PROMOTED]  # fmt: skip
    with store.session() as s:
        image = store.sync_images(s, _fleet(tmp_path, "python"))["python"]
        job = store.ensure_job(s, image, "sha256:" + "1" * 64, {})
    for state in chain:
        with store.session() as s:
            job = store.advance(s, job, state, digest="sha256:" + "b" * 64)
    with store.session() as s:
        moves = [e.data["to"] for e in store.events(s, kinds=[EventKind.JOB_STATE])]
        assert moves == [str(state) for state in chain]
        assert store.jobs(s, JobState.PROMOTED)[0].digest == "sha256:" + "b" * 64
    with pytest.raises(StoreError, match="cannot move from promoted to failed"), \
            store.session() as s:  # fmt: skip
        store.advance(s, job, JobState.FAILED)


def test_a_failed_job_is_retried_only_by_an_explicit_move_to_pending(store, tmp_path):
    with store.session() as s:
        image = store.sync_images(s, _fleet(tmp_path, "python"))["python"]
        job = store.ensure_job(s, image, "sha256:" + "1" * 64, {})
        job = store.advance(s, job, JobState.LOCKED)
        job = store.advance(s, job, JobState.FAILED, error="test 1 exited 1")
        assert store.ensure_job(s, image, "sha256:" + "1" * 64, {}).state is JobState.FAILED
        job = store.advance(s, job, JobState.PENDING)
        assert job.attempts == 1 and job.error == "test 1 exited 1"


def test_two_workers_cannot_take_the_same_step(store, tmp_path):
    with store.session() as s:
        image = store.sync_images(s, _fleet(tmp_path, "python"))["python"]
        job = store.ensure_job(s, image, "sha256:" + "1" * 64, {})
    with store.session() as s:
        stale = s.get(type(job), job.id)
        with store.session() as other:
            store.advance(other, other.get(type(job), job.id), JobState.LOCKED)
        with pytest.raises(StoreError, match="moved from pending by someone else"):
            store.advance(s, stale, JobState.LOCKED)


def test_state_machine_allows_only_forward_steps_and_ends():
    assert allowed(JobState.PENDING, JobState.LOCKED)
    assert not allowed(JobState.PENDING, JobState.BUILT)
    assert allowed(JobState.BUILT, JobState.SKIPPED) and allowed(JobState.STAGED, JobState.FAILED)
    assert not allowed(JobState.SKIPPED, JobState.FAILED)
    assert allowed(JobState.SKIPPED, JobState.PENDING)


@pytest.mark.parametrize("statement", ["UPDATE events SET message = 'x'", "DELETE FROM events"])
def test_the_event_log_is_append_only(store, statement):
    with store.session() as s:
        store.add_event(s, EventKind.ERROR, "registry answered 500")
    with pytest.raises(StoreError, match="events is append-only"), store.session() as s:
        s.execute(text(statement))
    with store.session() as s:
        assert [e.message for e in s.scalars(select(Event))] == ["registry answered 500"]


def test_store_urls():
    assert store_url(None, Path("/state")) == "sqlite:////state/fleet.sqlite"
    assert store_url("postgresql://u@h/db", Path("/")) == "postgresql+psycopg://u@h/db"
    assert store_url("sqlite:////x/y.db", Path("/")) == "sqlite:////x/y.db"
    for bad in ("mysql://u@h/db", "not a url", "sqlite://"):
        with pytest.raises(UsageError, match="--store"):
            store_url(bad, Path("/"))


def test_an_unreachable_server_is_one_line():
    with pytest.raises(StoreError) as err:
        Store.open(store_url("postgresql://nobody@127.0.0.1:1/none", Path("/")))
    message = err.value.diagnostics()
    assert "127.0.0.1:1" in message and "\n" not in message


def test_a_store_in_an_unwritable_place_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot create the store"):
        Store.open(store_url(None, tmp_path / "file" / "state"))


def test_a_store_made_by_an_older_zerocve_is_migrated_on_open_keeping_its_rows(
    store_location, clock
):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, make_url

    database = make_url(store_location).database
    if store_location.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True)
    engine = create_engine(store_location)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text(
            "INSERT INTO images (name, spec_path, repository, tags, held, created_at)"
            " VALUES ('old', '/s.yaml', 'localhost:5000/old', '[\"latest\"]', false,"
            " '2026-01-01 00:00:00')"
        ))  # fmt: skip
        lock = make_lock(("tzdata", "2024a-0+deb12u1"))
        connection.execute(text(
            "INSERT INTO locks (image_id, digest, content, created_at) VALUES"
            " ((SELECT id FROM images WHERE name = 'old'), 'sha256:x', :content,"
            " '2026-01-01 00:00:00')"
        ), {"content": dumps_lock(lock)})  # fmt: skip
        connection.execute(text(
            "INSERT INTO digests (image_id, digest, lock_id, size, bytes_pushed, packages,"
            " created_at) SELECT image_id, 'sha256:d', id, 0, 0, 0, created_at FROM locks"
        ))  # fmt: skip
        connection.execute(text("UPDATE images SET published_digest = 'sha256:d'"))
    engine.dispose()
    with Store.open(store_location, clock=clock) as store, store.session() as s:
        assert store.revision() == HEAD
        old = store.image(s, "old")
        assert old.replan is True and old.tags == ["latest"]
        (spec,) = s.execute(text("SELECT spec_digest FROM locks")).scalars()
        assert spec == lock.spec  # filled in from the content by migration 0003
        # 0004: a digest built before specs were recorded has none (its image is rebuilt once)
        assert store.published_specs(s) == {old.id: Published(lock.spec, None)}
