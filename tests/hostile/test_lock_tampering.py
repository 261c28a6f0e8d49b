"""A lock is never a way in: a lock edited by hand (its uri pointed at an unsigned directory,
its file, hash or version changed, a package or an index added) is refused before any of its
bytes are installed, with one line naming the package; a genuine lock builds offline from the
Release and index kept in the cache (issue 6, point 1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.aptrepo import AptRepo, SigningKey, make_deb
from support.lockkit import edit_lock, hello_debs, package_entry, signed_repo, write_spec, zerocve
from zerocve.debian.cache import file_sha256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.create(tmp_path_factory.mktemp("gnupg"))


@dataclass
class Project:
    root: Path
    repo: AptRepo
    spec: Path
    lock: Path
    evil: Path  # an unsigned directory holding the attacker's hello .deb

    def build(self, *extra: str, env: dict[str, str] | None = None) -> Any:
        return zerocve("build", self.spec, "-o", self.root / "out", "--no-scan", *extra, env=env)


@pytest.fixture
def project(tmp_path: Path, key: SigningKey) -> Iterator[Project]:
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs"))
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    done = zerocve("lock", spec)
    assert done.returncode == 0, done.stderr
    evil = tmp_path / "evil"
    (evil / "pool").mkdir(parents=True)
    make_deb(evil / "pool", "hello", "1.0", Source="hello-src",
             files={"usr/bin/rootshell": (b"#!/bin/sh\nexec /bin/sh -p\n", 0o4755)})
    yield Project(tmp_path, repo, spec, tmp_path / "image.lock.json", evil)


def point_at(entry: dict[str, Any], deb: Path, uri: str, filename: str) -> None:
    entry.update(uri=uri, filename=filename, size=deb.stat().st_size, sha256=file_sha256(deb))


def refused(done: Any, project: Project, *words: str) -> None:
    """Exit 3, one line on stderr naming the lock and ``words``, and no image written."""
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(project.lock) in lines[0] and all(w in lines[0] for w in words), lines[0]
    assert not (project.root / "out").exists()
    assert done.stdout == ""


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "fresh-lock"])
def test_uri_pointed_at_an_unsigned_directory(project: Project, locked: bool) -> None:
    deb = project.evil / "pool" / "hello_1.0_amd64.deb"
    edit_lock(project.lock, lambda lock: point_at(
        package_entry(lock, "hello"), deb, project.evil.as_uri(), "pool/hello_1.0_amd64.deb"))
    refused(project.build(*(["--locked"] if locked else [])), project, "hello 1.0 (amd64)",
            "uri")


def test_file_and_hash_set_to_another_deb_on_the_signed_mirror(project: Project) -> None:
    planted = project.repo.root / "pool" / "bookworm" / "hello_1.0_amd64+evil.deb"
    shutil.copyfile(project.evil / "pool" / "hello_1.0_amd64.deb", planted)
    edit_lock(project.lock, lambda lock: point_at(
        package_entry(lock, "hello"), planted, project.repo.uri,
        "pool/bookworm/hello_1.0_amd64+evil.deb"))
    refused(project.build("--locked"), project, "hello 1.0 (amd64)", "filename")


def test_an_added_package_entry(project: Project) -> None:
    deb = project.evil / "pool" / "hello_1.0_amd64.deb"

    def add(lock: dict[str, Any]) -> None:
        entry = {**package_entry(lock, "hello"), "name": "zz-rootkit", "source": "zz-rootkit"}
        point_at(entry, deb, project.evil.as_uri(), "pool/hello_1.0_amd64.deb")
        lock["archs"]["amd64"]["packages"].append(entry)

    edit_lock(project.lock, add)
    refused(project.build("--locked"), project, "zz-rootkit 1.0 (amd64)",
            "not in the spec's resolution")


def test_an_added_index_of_an_unsigned_repository(project: Project) -> None:
    def add(lock: dict[str, Any]) -> None:
        index = {**lock["archs"]["amd64"]["indices"][0], "uri": project.evil.as_uri()}
        lock["archs"]["amd64"]["indices"].append(index)

    edit_lock(project.lock, add)
    refused(project.build("--locked"), project, project.evil.as_uri(),
            "which the spec's repositories do not name")


def test_an_older_version_the_mirror_still_signs(project: Project, tmp_path: Path) -> None:
    """Both versions are in the signed index: the lock may still only hold the resolution."""
    newer = hello_debs(tmp_path / "debs-1.1", "1.1")
    project.repo.publish(newer, "bookworm")
    assert zerocve("lock", project.spec).returncode == 0
    old = project.repo.root / "pool" / "bookworm" / "hello_1.0_amd64.deb"
    edit_lock(project.lock, lambda lock: package_entry(lock, "hello").update(
        version="1.0", source_version="1.0", filename="pool/bookworm/hello_1.0_amd64.deb",
        size=old.stat().st_size, sha256=file_sha256(old)))
    refused(project.build("--locked"), project, "hello 1.0 (amd64)", "version '1.0'", "'1.1'")


def test_a_genuine_lock_builds_offline_from_the_cache(project: Project) -> None:
    first = project.build("--locked")
    assert first.returncode == 0, first.stderr
    shutil.rmtree(project.repo.root)  # the mirror is gone; the cache holds what was verified
    shutil.rmtree(project.root / "out")
    again = project.build("--locked")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout


def test_a_lock_whose_release_is_gone_is_refused(project: Project, tmp_path: Path) -> None:
    """A new machine (empty cache) and a mirror that has moved on: nothing left to verify the
    lock's index with, so nothing is installed."""
    project.repo.publish(hello_debs(tmp_path / "debs-1.1", "1.1"), "bookworm")
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "empty-cache")}
    refused(project.build("--locked", env=env), project, "cannot verify hello",
            "neither kept in the cache nor served any more")


def test_a_tampered_kept_release_is_refused(project: Project) -> None:
    cache = Path(os.environ["ZEROCVE_CACHE_DIR"])
    lock = project.lock.read_text()
    kept = [p for p in (cache / "releases").rglob("*.InRelease") if p.name[:64] in lock]
    assert len(kept) == 1
    kept[0].write_bytes(kept[0].read_bytes().replace(b"Suite: bookworm", b"Suite: bookwarm"))
    shutil.rmtree(project.repo.root)
    refused(project.build("--locked"), project, "cannot verify hello", "BAD signature")
