"""Watching a real signed apt repository on loopback (http) and a tracker feed, and one check
of a fleet over them: conditional InRelease polls, new versions by first-seen time, fixes
diffed, exactly the images hit planned, everything recorded in one transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from support.aptrepo import AptRepo, closure, download_many, offered_versions
from support.fleetkit import write_spec
from zerocve.debian.repo import RepoClient
from zerocve.errors import SignatureError
from zerocve.fleet.built_spec import as_built
from zerocve.fleet.check import check
from zerocve.fleet.config import parse_fleet
from zerocve.fleet.models import EventKind, FixSeen, Job, JobState, LockRecord, VersionSeen
from zerocve.fleet.plan import Verdict
from zerocve.fleet.store import Store, store_url
from zerocve.lock import Lock
from zerocve.settings import Settings
from zerocve.spec import load_spec

pytestmark = pytest.mark.slow


class MovingRepo:
    """A signed repository served on 127.0.0.1 whose bookworm-security suite starts empty;
    ``release(name)`` publishes the security version of ``name`` into it."""

    def __init__(self, root: Path, key) -> None:
        offered = offered_versions(closure(["libexpat1", "tzdata"]))
        debs = download_many([(n, v) for n, v, _ in offered], "amd64", ())
        self.security = {n: debs[n, v] for n, v, suite in offered if suite == "bookworm-security"}
        self.versions = {(n, suite): v for n, v, suite in offered}
        self.repo = AptRepo(root=root, key=key, archs=["amd64"])
        self.repo.publish([debs[n, v] for n, v, suite in offered if suite == "bookworm"],
                          "bookworm")  # fmt: skip
        self.repo.publish([], "bookworm-security")
        self.repo.serve()

    def release(self, name: str) -> str:
        """Publish the security version of ``name``; its version."""
        self.repo.publish([self.security[name]], "bookworm-security")
        # The server answers If-Modified-Since by the file's mtime, to the second.
        in_release = self.repo.root / "dists" / "bookworm-security" / "InRelease"
        later = time.time() + 2
        os.utime(in_release, (later, later))
        return self.versions[(name, "bookworm-security")]


@pytest.fixture
def moving(tmp_path: Path, signing_key) -> Iterator[MovingRepo]:
    repo = MovingRepo(tmp_path / "repo", signing_key)
    yield repo
    repo.repo.close()


def _tracker(path: Path, fixes: dict[str, tuple[str, str]]) -> None:
    """A Debian tracker JSON export: vulnerability → (source, fixed version) in bookworm."""
    data: dict[str, dict[str, object]] = {}
    for vulnerability, (source, fixed) in fixes.items():
        data.setdefault(source, {})[vulnerability] = {
            "description": f"{vulnerability} in {source}",
            "releases": {"bookworm": {"status": "resolved", "fixed_version": fixed,
                                      "urgency": "medium"}},
        }  # fmt: skip
    path.write_text(json.dumps(data))


@pytest.fixture
def world(tmp_path: Path, moving: MovingRepo, clock):
    """A fleet of two images (libexpat1, tzdata) over the moving repository, a tracker
    feed, a store and settings, with the clock of the store."""
    specs = tmp_path / "images"
    specs.mkdir()
    over_http = SimpleNamespace(uri=moving.repo.http_uri, suites=moving.repo.suites,
                                keyring=moving.repo.keyring)  # fmt: skip
    write_spec(specs, "expat", over_http, ["libexpat1"])  # type: ignore[arg-type]
    write_spec(specs, "tz", over_http, ["tzdata"])  # type: ignore[arg-type]
    _tracker(tmp_path / "tracker.json", {"CVE-2024-0001": ("expat", "2.5.0-1+deb12u1")})
    (tmp_path / "fleet.yaml").write_text(
        "images: [{spec: 'images/*.yaml', repository: 'localhost:5000/t/{name}'}]\n"
        "watch: {advisories: [{tracker: tracker.json}]}\n"
    )
    fleet = parse_fleet((tmp_path / "fleet.yaml").read_text(), "fleet.yaml", tmp_path)
    settings = Settings.from_env(cache_dir=tmp_path / "cache", db_path=tmp_path / "db.sqlite",
                                 state_dir=tmp_path / "state", clock=clock)  # fmt: skip
    store = Store.open(store_url(None, tmp_path / "state"), clock=clock)
    yield fleet, settings, store, tmp_path
    store.close()


def _publish_all(store: Store, result) -> None:
    """What a build and a promotion record: each rebuilt image's target lock is now the
    published one, and its spec the one the published digest was built from."""
    with store.session() as s:
        for name in result.jobs:
            image = store.image(s, name)
            job = s.get(Job, result.jobs[name])
            digest = "sha256:" + job.target_lock_digest[-64:]
            store.record_digest(s, image, digest, lock_id=job.lock_id,
                                build_spec=as_built(load_spec(image.spec_path)))
            image.published_digest, image.published_at = digest, store.clock()
            lock = s.get(LockRecord, job.lock_id)
            store.set_package_index(s, image, Lock.model_validate_json(lock.content))


def test_a_new_security_version_reaches_exactly_its_image_with_first_seen_times(world, moving,
                                                                              clock):  # fmt: skip
    fleet, settings, store, tmp = world
    first = check(store, fleet, settings)
    assert [(p.name, p.verdict) for p in first.plans] == [
        ("expat", Verdict.REBUILD), ("tz", Verdict.REBUILD)
    ]  # fmt: skip
    assert first.repositories.new_versions == ()  # a first look is a baseline
    assert first.advisories.new_fixes == ()
    _publish_all(store, first)

    clock.advance(minutes=10)
    quiet = check(store, fleet, settings)
    assert not quiet.planned and not quiet.rebuilds and not quiet.repositories.changed

    clock.advance(minutes=10)
    published_at = clock.now
    version = moving.release("libexpat1")
    _tracker(tmp / "tracker.json", {"CVE-2024-0001": ("expat", "2.5.0-1+deb12u1"),
                                    "CVE-2024-45490": ("expat", version)})  # fmt: skip
    hit = check(store, fleet, settings)
    assert hit.repositories.changed == ((moving.repo.http_uri, "bookworm-security"),)
    assert [v.describe() for v in hit.repositories.new_versions] == [
        f"libexpat1 {version} (bookworm-security)"
    ]
    assert [(f.vulnerability, f.fixed_version) for f in hit.advisories.new_fixes] == [
        ("CVE-2024-45490", version)
    ]
    plans = {p.name: p for p in hit.plans}
    assert plans["tz"].verdict is Verdict.NOT_HIT
    assert plans["expat"].rebuild and plans["expat"].fixes == ("CVE-2024-45490",)
    assert [m.describe() for m in plans["expat"].moves] == [
        f"libexpat1 2.5.0-1+deb12u2 → {version} fixes CVE-2024-45490"
    ]
    with store.session() as s:
        job = s.get(Job, hit.jobs["expat"])
        assert job.state is JobState.PENDING and job.lock_id is not None
        assert job.reason["packages"][0]["after"] == version
        seen = store.versions_first_seen(s, [("expat", version)])[("expat", version)]
        assert seen.at == published_at and not seen.baseline
        fix = store.fixes_first_seen(s, [("expat", "CVE-2024-45490")])
        assert fix[("expat", "CVE-2024-45490")].at == published_at
        old_fix = store.fixes_first_seen(s, [("expat", "CVE-2024-0001")])
        assert old_fix[("expat", "CVE-2024-0001")].baseline
        events = [e.message for e in store.events(s, kinds=[EventKind.REPOSITORY_CHANGED])]
        assert any(f"new libexpat1 {version}" in m for m in events)

    clock.advance(minutes=10)
    again = check(store, fleet, settings)
    assert not again.planned and again.jobs == {}
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 3  # 2 first builds + expat


def test_a_dry_run_records_nothing_and_the_next_check_sees_the_same_change(world, moving, clock):
    fleet, settings, store, _ = world
    _publish_all(store, check(store, fleet, settings))
    version = moving.release("libexpat1")
    dry = check(store, fleet, settings, record=False)
    assert [p.name for p in dry.rebuilds] == ["expat"] and "expat" in dry.jobs
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 2
        assert not s.scalars(select(VersionSeen).where(VersionSeen.version == version)).all()
    real = check(store, fleet, settings)
    assert [p.name for p in real.rebuilds] == ["expat"]
    assert [v.version for v in real.repositories.new_versions] == [version]


def test_a_new_inrelease_with_a_bad_signature_fails_the_check_and_records_nothing(
    world, moving, clock, tmp_path
):
    fleet, settings, store, _ = world
    _publish_all(store, check(store, fleet, settings))
    moving.release("libexpat1")
    in_release = moving.repo.root / "dists" / "bookworm-security" / "InRelease"
    in_release.write_text(in_release.read_text().replace("bookworm-security", "bookworm-securitx"))
    later = time.time() + 4
    os.utime(in_release, (later, later))
    with pytest.raises(SignatureError, match="bookworm-security"):
        check(store, fleet, settings)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 2
        assert s.scalar(select(func.count()).select_from(FixSeen)) == 1


def test_inrelease_is_polled_with_conditional_requests(moving):
    uri, keyring = moving.repo.http_uri, moving.repo.keyring
    with RepoClient(Settings.from_env().cache_dir) as client:
        first = client.check_release(uri, "bookworm", keyring)
        assert first.release is not None and first.last_modified
        unchanged = client.check_release(uri, "bookworm", keyring, etag=first.etag,
                                         last_modified=first.last_modified)  # fmt: skip
        assert unchanged.release is None
        moving.release("libexpat1")
        security = client.check_release(uri, "bookworm-security", keyring,
                                        last_modified=first.last_modified)  # fmt: skip
        assert security.release is not None and security.sha256 != first.sha256
        by_file = client.check_release(moving.repo.uri, "bookworm", keyring,
                                       last_modified=first.last_modified)  # fmt: skip
        assert by_file.release is not None and by_file.sha256 == first.sha256


def test_fleet_plan_explains_the_rebuilds_and_records_nothing(world, moving):
    fleet, settings, store, tmp = world
    _publish_all(store, check(store, fleet, settings))
    version = moving.release("libexpat1")
    _tracker(tmp / "tracker.json", {"CVE-2024-45490": ("expat", version)})
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(settings.cache_dir),
           "ZEROCVE_DB": str(settings.db_path), "COLUMNS": "200"}  # fmt: skip
    url = f"sqlite:///{tmp / 'state' / 'fleet.sqlite'}"

    def plan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zerocve", "fleet", "plan", "fleet.yaml",
                               "--store", url, *args], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip

    done = plan("-o", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    images = {i["image"]: i for i in document["images"]}
    assert images["tz"]["verdict"] == "not-hit"
    assert images["expat"]["verdict"] == "rebuild"
    assert images["expat"]["fixes"] == ["CVE-2024-45490"]
    assert [(m["name"], m["after"]) for m in images["expat"]["packages"]] == [
        ("libexpat1", version)
    ]
    assert document["new_versions"] == [f"libexpat1 {version} (bookworm-security)"]
    table = plan()
    assert table.returncode == 0, table.stderr
    assert f"libexpat1 2.5.0-1+deb12u2 → {version} fixes CVE-2024-45490" in table.stdout
    assert "1 of 2 images to rebuild" in table.stdout
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 2
