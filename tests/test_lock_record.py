"""Verified-lock records (zerocve.lock_record): a lock verified once against a spec, its
repositories, their keyrings and signed Releases is not verified again while all of those are
the same; any change, and any damage to the record, means a full verification, which still
refuses what it refused before. On a signed loopback repository of dpkg-deb-built packages."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import zerocve.lock
from support.aptrepo import AptRepo, SigningKey
from support.lockkit import hello_debs, signed_repo, write_spec
from zerocve import api
from zerocve._source_digest import package_digest
from zerocve.cache_seal import CacheSeal
from zerocve.debian.release_store import ReleaseStore
from zerocve.debian.releases import DebianRelease
from zerocve.errors import LockError
from zerocve.lock import Lock
from zerocve.lock_record import VerifiedLocks, record_key
from zerocve.settings import Settings
from zerocve.spec import ImageSpec


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.create(tmp_path_factory.mktemp("gnupg"))


@dataclass
class Project:
    repo: AptRepo
    spec_path: Path
    spec: ImageSpec
    lock: Lock
    settings: Settings

    def build(self, spec: ImageSpec | None = None, lock: Lock | None = None,
              **options: Any) -> str:
        return api.build(spec or self.spec, lock or self.lock, self.settings, **options).digest

    def records(self) -> list[Path]:
        return sorted((self.settings.cache_dir / "verified-locks").glob("*.json"))

    def key_of(self, lock: Lock) -> str:
        found = record_key(self.spec, lock, api.repositories_of(self.spec, self.settings),
                           package_digest(), ReleaseStore(self.settings.cache_dir))
        assert found is not None
        return found


@pytest.fixture
def project(tmp_path: Path, key: SigningKey) -> Project:
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs"))
    spec_path = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    settings = Settings.from_env(cache_dir=tmp_path / "cache")
    spec = api.load_spec(spec_path)
    return Project(repo, spec_path, spec, api.lock(spec, settings), settings)


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[Lock]:
    """Every lock the real ``verify_lock`` checks in full, in order."""
    calls: list[Lock] = []
    real = zerocve.lock.verify_lock

    def counted(lock: Lock, *args: Any, **kwargs: Any) -> Any:
        calls.append(lock)
        return real(lock, *args, **kwargs)

    monkeypatch.setattr(zerocve.lock, "verify_lock", counted)
    return calls


def with_package(lock: Lock, name: str, **changes: Any) -> Lock:
    amd64 = lock.archs["amd64"]
    packages = [p.model_copy(update=changes) if p.name == name else p for p in amd64.packages]
    return lock.model_copy(update={"archs": {"amd64": amd64.model_copy(
        update={"packages": packages})}})


def test_a_lock_verified_once_is_not_verified_again(
    project: Project, verified: list[Lock]
) -> None:
    first = project.build()
    assert verified == [project.lock] and len(project.records()) == 1
    assert project.build() == first
    assert verified == [project.lock]  # the record stood for the verification
    # The record carries what the verification found: the same image, os-release included.
    assert project.build(use_cache=False) == first  # --no-cache: verified in full again
    assert len(verified) == 2


def test_a_changed_lock_is_verified_in_full(project: Project, verified: list[Lock]) -> None:
    project.build()
    tampered = with_package(project.lock, "hello", filename="pool/evil/hello_1.0_amd64.deb")
    with pytest.raises(LockError, match=r"hello 1\.0 \(amd64\): filename "):
        project.build(lock=tampered)
    # A lock that differs in a way the verification accepts is checked, then recorded too.
    later = project.lock.model_copy(update={"source_date_epoch": 1})
    project.build(lock=later)
    assert verified == [project.lock, tampered, later]
    assert len(project.records()) == 2


def test_a_changed_spec_is_verified_in_full(
    project: Project, verified: list[Lock], tmp_path: Path
) -> None:
    project.build()
    narrower = api.load_spec(write_spec(tmp_path / "lib.yaml", project.repo, ["hello-lib"]))
    with pytest.raises(LockError, match=r"hello 1\.0 \(amd64\): not in the spec's resolution"):
        project.build(spec=narrower)
    same_set = api.load_spec(write_spec(tmp_path / "both.yaml", project.repo,
                                        ["hello", "hello-lib"]))
    project.build(spec=same_set)
    assert [lock is project.lock for lock in verified] == [True, True, True]


def test_a_new_release_or_keyring_is_verified_in_full(
    project: Project, verified: list[Lock], tmp_path: Path
) -> None:
    project.build()
    # A new Release: the new lock pins it, so its record is another.
    project.repo.publish(hello_debs(tmp_path / "debs-1.1", "1.1"), "bookworm")
    relocked = api.lock(project.spec, project.settings)
    project.build(lock=relocked)
    assert verified == [project.lock, relocked]
    # The spec's keyring holds another key, which did not sign the kept Releases: the record
    # no longer applies, and the full verification refuses the lock.
    other = SigningKey.create(tmp_path / "other-gnupg")
    keyring = tmp_path / "keyring.gpg"
    shutil.copyfile(project.repo.keyring, keyring)
    text = project.spec_path.read_text().replace(str(project.repo.keyring), str(keyring))
    (tmp_path / "copy.yaml").write_text(text)
    copy = api.load_spec(tmp_path / "copy.yaml")
    project.build(spec=copy, lock=relocked)  # a keyring at another path: verified, recorded
    shutil.copyfile(other.keyring, keyring)  # the same path, other bytes
    with pytest.raises(LockError, match="signed by unknown key"):
        project.build(spec=copy, lock=relocked)
    assert len(verified) == 4


@pytest.mark.parametrize("damage", ["truncated", "edited", "not json", "not an object",
                                    "other key"])
def test_a_damaged_record_is_not_trusted_and_is_rebuilt(
    project: Project, verified: list[Lock], damage: str
) -> None:
    first = project.build()
    (record,) = project.records()
    genuine = record.read_bytes()
    data = json.loads(genuine)
    if damage == "truncated":
        record.write_bytes(genuine[: len(genuine) // 2])
    elif damage == "edited":  # a release that no verification found, the seal kept
        data["releases"]["amd64"] = {"codename": "trixie", "version_id": "13"}
        record.write_text(json.dumps(data))
    elif damage == "not json":
        record.write_bytes(b"\xff" * len(genuine))
    elif damage == "not an object":
        record.write_text("[]")
    else:  # a whole record, under the name of a lock it was not written for
        data["key"] = "0" * 64
        record.write_text(json.dumps(data))
    assert project.build() == first
    assert len(verified) == 2  # verified in full, then written whole again
    assert record.read_bytes() == genuine


def test_a_record_copied_to_a_tampered_lock_does_not_pass_it(
    project: Project, verified: list[Lock]
) -> None:
    project.build()
    (record,) = project.records()
    assert record.stem == project.key_of(project.lock)
    tampered = with_package(project.lock, "hello-lib", sha256="0" * 64)
    shutil.copyfile(record, record.with_name(f"{project.key_of(tampered)}.json"))
    with pytest.raises(LockError, match=r"hello-lib 1\.0 \(amd64\): sha256 "):
        project.build(lock=tampered)
    assert verified == [project.lock, tampered]


def test_a_record_lapses_when_a_key_of_the_keyring_expires(tmp_path: Path) -> None:
    expiring = SigningKey.create(tmp_path / "gnupg", expire="2d")
    repo = signed_repo(tmp_path / "repo", expiring, hello_debs(tmp_path / "debs"))
    spec = api.load_spec(write_spec(tmp_path / "image.yaml", repo, ["hello"]))
    repositories = spec.contents.repositories
    assert repositories is not None
    records = VerifiedLocks(tmp_path / "cache", CacheSeal(bytes(32)))
    now = datetime.now(UTC)
    releases = {"amd64": DebianRelease("bookworm", "12")}
    records.store("a" * 64, releases, repositories, now)
    assert records.load("a" * 64, ["amd64"], now + timedelta(days=1)) == releases
    assert records.load("a" * 64, ["amd64"], now + timedelta(days=3)) is None
    assert records.load("a" * 64, ["amd64", "arm64"], now) is None  # not this spec's archs


def test_a_record_planted_for_a_tampered_lock_does_not_pass_it(
    project: Project, verified: list[Lock]
) -> None:
    """Whoever writes the cache directory (a CI cache restored from another branch) can write
    any record, with any checksum: only the seal, keyed outside the cache, makes it count."""
    project.build()
    (record,) = project.records()
    tampered = with_package(project.lock, "hello-lib", sha256="0" * 64)
    key = project.key_of(tampered)
    body = {**{k: v for k, v in json.loads(record.read_bytes()).items() if k != "seal"},
            "key": key}
    for planted in (CacheSeal(b"another machine's key, 32 bytes!"), None):
        seal = (planted.seal(json.dumps(body, sort_keys=True).encode()) if planted
                else hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest())
        record.with_name(f"{key}.json").write_text(json.dumps({**body, "seal": seal}))
        with pytest.raises(LockError, match=r"hello-lib 1\.0 \(amd64\): sha256 "):
            project.build(lock=tampered)
    assert verified == [project.lock, tampered, tampered]


def test_a_lock_just_resolved_is_recorded_as_verified(
    project: Project, verified: list[Lock]
) -> None:
    """``zerocve lock`` keeps a record: what it resolved from verified indices is what the
    verification would find, so the build that follows resolves nothing again, and builds
    the very image a full verification gives (the release in /etc/os-release included)."""
    recorded = api.lock(project.spec, project.settings, record=True)
    assert recorded == project.lock and len(project.records()) == 1
    first = project.build()
    assert verified == []
    assert project.build(use_cache=False) == first and verified == [project.lock]
    # Without record=True (the fleet locks many specs at once), nothing is kept.
    for path in project.records():
        path.unlink()
    api.lock(project.spec, project.settings)
    assert project.records() == []


def test_a_kept_release_altered_since_is_verified_again(
    project: Project, verified: list[Lock]
) -> None:
    project.build()
    (kept,) = (project.settings.cache_dir / "releases").rglob("*.InRelease")
    kept.write_bytes(kept.read_bytes().replace(b"Suite: bookworm", b"Suite: bookwarm"))
    shutil.rmtree(project.repo.root)  # nothing to fetch a good copy from
    with pytest.raises(LockError, match="BAD signature"):
        project.build()
    assert verified == [project.lock, project.lock]
