"""The lock file: resolution into ``image.lock.json``, atomic writes, strict reads, freshness;
then ``zerocve lock`` against the signed loopback repository of real .debs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from support.aptrepo import DATE, AptRepo
from zerocve import api
from zerocve.debian.catalog import ParsedCatalog
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.releases import DebianRelease, debian_release
from zerocve.debian.repo import IndexPin, PackageIndex, RepoClient
from zerocve.errors import LockError, RepositoryError, ResolutionError
from zerocve.lock import (
    Lock,
    LockedPackage,
    default_lock_path,
    dumps_lock,
    lock_spec,
    read_lock,
    verify_lock,
    write_lock,
)
from zerocve.settings import Settings
from zerocve.spec import ImageSpec, RepositorySpec, load_spec, parse_spec

REPO = "file:///srv/repo"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pkg(name: str, version: str, arch: str, suite: str, **fields: Any) -> BinaryPackage:
    return BinaryPackage(
        name=name,
        version=version,
        architecture=arch,
        source=fields.pop("source", name),
        source_version=fields.pop("source_version", version),
        filename=f"pool/main/{name[0]}/{name}/{name}_{version}_{arch}.deb",
        size=len(name) * 1000,
        sha256=sha(f"{name} {version} {arch}"),
        origin=Origin(REPO, suite, "main", "amd64"),
        **fields,
    )


def index(suite: str, arch: str, date: str, *packages: BinaryPackage) -> PackageIndex:
    origin = Origin(REPO, suite, "main", arch)
    return PackageIndex(
        origin=origin,
        path=f"main/binary-{arch}/Packages.xz",
        sha256=sha(f"{suite} {arch} packages"),
        release_sha256=sha(f"{suite} release"),
        catalog=ParsedCatalog(p._replace(origin=origin) for p in packages),
        date=parsedate_to_datetime(date),
        release=debian_release(suite, None),
    )


def indices_for(arch: str) -> list[PackageIndex]:
    other = "arm64" if arch == "amd64" else "amd64"
    return [
        index(
            "bookworm", arch, "Sat, 10 May 2025 08:00:00 UTC",
            pkg("app", "1.0", arch, "bookworm", depends="libfoo (>= 1), tzdata",
                pre_depends="dpkg (>= 1.15)"),
            pkg("libfoo", "1.2-1", arch, "bookworm", source="foo", source_version="1.2-1"),
            pkg("tzdata", "2025a-0+deb12u1", "all", "bookworm",
                depends="debconf (>= 0.5) | debconf-2.0"),
            pkg("dpkg", "1.21.22", arch, "bookworm", essential=True, priority="required"),
            pkg("libfoo", "9.9", other, "bookworm"),  # a stray stanza of another arch
        ),
        index(
            "bookworm-security", arch, "Tue, 20 May 2025 12:30:00 UTC",
            pkg("libfoo", "1.2-1+deb12u1", arch, "bookworm-security", source="foo",
                source_version="1.2-1+deb12u1"),
        ),
    ]  # fmt: skip


SPEC = """
contents:
  repositories:
    - uri: file:///srv/repo
      suites: [bookworm, bookworm-security]
      keyring: /usr/share/keyrings/debian-archive-keyring.gpg
  packages: [app]
archs: [amd64]
"""


def spec_of(text: str = SPEC, **changes: Any) -> ImageSpec:
    return parse_spec(text).model_copy(update=changes)


class FakeRepos:
    """``fetch_indices`` and ``host_repositories`` as ``lock_spec`` calls them, recorded."""

    def __init__(self, host: list[RepositorySpec] | None = None) -> None:
        self.fetched: list[tuple[list[str], str]] = []
        self.host_calls = 0
        self.host = host or []

    def fetch_indices(self, repos: list[RepositorySpec], arch: str) -> list[PackageIndex]:
        self.fetched.append(([r.uri for r in repos], arch))
        return indices_for(arch)

    def host_repositories(self) -> list[RepositorySpec]:
        self.host_calls += 1
        return self.host


def make_lock(spec: ImageSpec | None = None, repos: FakeRepos | None = None) -> Lock:
    repos = repos or FakeRepos()
    return lock_spec(spec or spec_of(), repos.fetch_indices, repos.host_repositories)


# -- lock_spec ------------------------------------------------------------------------------


def test_lock_records_packages_and_indices() -> None:
    repos = FakeRepos()
    lock = make_lock(repos=repos)
    assert repos.fetched == [(["file:///srv/repo"], "amd64")]
    assert repos.host_calls == 0
    assert lock.spec == spec_of().resolution_digest()
    amd64 = lock.archs["amd64"]
    assert [(p.name, p.version, p.architecture, p.suite) for p in amd64.packages] == [
        ("app", "1.0", "amd64", "bookworm"),
        ("libfoo", "1.2-1+deb12u1", "amd64", "bookworm-security"),  # security wins
        ("tzdata", "2025a-0+deb12u1", "all", "bookworm"),
    ]  # dpkg and debconf only serve maintainer scripts: left out by the default exclusions
    libfoo = amd64.packages[1]
    assert (libfoo.source, libfoo.source_version) == ("foo", "1.2-1+deb12u1")
    assert libfoo.sha256 == sha("libfoo 1.2-1+deb12u1 amd64")
    assert libfoo.filename == "pool/main/l/libfoo/libfoo_1.2-1+deb12u1_amd64.deb"
    assert (libfoo.uri, libfoo.component, libfoo.size) == (REPO, "main", 6000)
    assert libfoo.origin("amd64") == Origin(REPO, "bookworm-security", "main", "amd64")
    assert [(i.suite, i.path, i.sha256) for i in amd64.indices] == [
        ("bookworm", "main/binary-amd64/Packages.xz", sha("bookworm amd64 packages")),
        ("bookworm-security", "main/binary-amd64/Packages.xz",
         sha("bookworm-security amd64 packages")),
    ]  # fmt: skip
    assert amd64.indices[1].release_sha256 == sha("bookworm-security release")


def test_source_date_epoch_is_the_newest_release_date_unless_given() -> None:
    newest = datetime(2025, 5, 20, 12, 30, tzinfo=UTC)
    assert make_lock().source_date_epoch == int(newest.timestamp())
    repos = FakeRepos()
    given = lock_spec(spec_of(), repos.fetch_indices, repos.host_repositories,
                      source_date_epoch=1700000000)
    assert given.source_date_epoch == 1700000000


def test_no_release_date_and_no_epoch_is_an_error() -> None:
    class Undated(FakeRepos):
        def fetch_indices(self, repos: list[RepositorySpec], arch: str) -> list[PackageIndex]:
            return [PackageIndex(**{**i.__dict__, "date": None}) for i in indices_for(arch)]

    repos = Undated()
    with pytest.raises(LockError, match="no Release .* has a Date .*; set SOURCE_DATE_EPOCH$"):
        lock_spec(spec_of(), repos.fetch_indices, repos.host_repositories)


def test_every_arch_is_resolved_from_its_own_indices() -> None:
    repos = FakeRepos()
    lock = make_lock(spec_of(archs=["arm64", "amd64"]), repos)
    assert [arch for _, arch in repos.fetched] == ["amd64", "arm64"]
    assert list(lock.archs) == ["amd64", "arm64"]
    assert [p.architecture for p in lock.archs["arm64"].packages] == ["arm64", "arm64", "all"]
    assert lock.archs["arm64"].indices[0].architecture == "arm64"


def test_a_foreign_architecture_request_fetches_that_architecture_too() -> None:
    repos = FakeRepos()
    lock = make_lock(parse_spec(SPEC.replace("[app]", "[tzdata, 'libfoo:arm64']")), repos)
    assert repos.fetched == [([REPO], "amd64"), ([REPO], "arm64")]
    amd64 = lock.archs["amd64"]
    assert [(p.name, p.architecture) for p in amd64.packages] == [
        ("libfoo", "arm64"),
        ("tzdata", "all"),
    ]
    assert [i.architecture for i in amd64.indices] == ["amd64", "amd64", "arm64", "arm64"]


def test_host_repositories_are_used_when_the_spec_names_none() -> None:
    no_repos = SPEC.replace(SPEC[SPEC.index("  repositories") : SPEC.index("  packages")], "")
    host = [RepositorySpec(uri="http://127.0.0.1:9/debian", suites=["bookworm"])]
    repos = FakeRepos(host)
    make_lock(parse_spec(no_repos), repos)
    assert repos.host_calls == 1
    assert repos.fetched == [(["http://127.0.0.1:9/debian"], "amd64")]
    with pytest.raises(LockError, match="no repositories and the host has no apt sources"):
        make_lock(parse_spec(no_repos), FakeRepos([]))


def test_resolution_failure_propagates() -> None:
    spec = parse_spec(SPEC.replace("[app]", "[app, pyhton3]"))
    with pytest.raises(ResolutionError, match="unknown package 'pyhton3'"):
        make_lock(spec)


def test_freshness_follows_what_decides_the_package_set() -> None:
    lock = make_lock()
    assert lock.is_fresh_for(spec_of())
    assert lock.is_fresh_for(parse_spec(SPEC + "entrypoint: {command: /usr/bin/app}\n"))
    assert not lock.is_fresh_for(parse_spec(SPEC.replace("[app]", "[app, tzdata]")))
    assert not lock.is_fresh_for(parse_spec(SPEC.replace("[amd64]", "[amd64, arm64]")))
    keep_all = SPEC.replace("  packages: [app]\n", "  packages: [app]\n  exclude: []\n")
    assert not lock.is_fresh_for(parse_spec(keep_all))


# -- writing and reading --------------------------------------------------------------------


def test_bytes_are_stable_and_readable(tmp_path: Path) -> None:
    first, second = make_lock(), make_lock()
    assert dumps_lock(first) == dumps_lock(second)
    text = dumps_lock(first)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n  "version": 1,\n  "spec": "sha256:')
    data = json.loads(text)
    assert list(data) == ["version", "spec", "source_date_epoch", "archs"]
    assert list(data["archs"]["amd64"]["packages"][0]) == [
        "name", "version", "architecture", "source", "source_version", "uri", "suite",
        "component", "filename", "size", "sha256",
    ]  # fmt: skip
    path = tmp_path / "image.lock.json"
    write_lock(first, path)
    assert path.read_text() == text
    assert read_lock(path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.lock.json"]


# -- verify_lock ----------------------------------------------------------------------------


def signed_index(pin: IndexPin, repo: RepositorySpec) -> PackageIndex:
    """The fake's signed truth: the index a pin names, when its hashes are the signed ones."""
    for candidate in indices_for(pin.origin.architecture):
        if candidate.origin == pin.origin and candidate.path == pin.path:
            if (pin.sha256, pin.release_sha256) != (candidate.sha256, candidate.release_sha256):
                raise RepositoryError(f"{pin.origin.uri} {pin.origin.suite}: not signed")
            return candidate
    raise RepositoryError(f"{pin.origin.uri} {pin.origin.suite}: no such index")


def verify(lock: Lock) -> DebianRelease | None:
    spec = spec_of()
    assert spec.contents.repositories is not None
    return verify_lock(lock, spec, spec.contents.repositories, signed_index).releases["amd64"]


def with_packages(lock: Lock, packages: list[LockedPackage]) -> Lock:
    amd64 = lock.archs["amd64"].model_copy(update={"packages": packages})
    return lock.model_copy(update={"archs": {"amd64": amd64}})


def test_verify_lock_accepts_the_resolution_and_names_the_signed_release() -> None:
    assert verify(make_lock()) == DebianRelease("bookworm", "12")


@pytest.mark.parametrize(
    ("field", "value"),
    [("uri", "file:///evil"), ("filename", "pool/evil.deb"), ("sha256", "0" * 64),
     ("size", 1), ("version", "1.2-1"), ("source_version", "1.2-1"), ("suite", "bookworm")],
)
def test_verify_lock_refuses_an_edited_package(field: str, value: object) -> None:
    lock = make_lock()
    packages = list(lock.archs["amd64"].packages)
    libfoo = next(i for i, p in enumerate(packages) if p.name == "libfoo")
    packages[libfoo] = packages[libfoo].model_copy(update={field: value})
    with pytest.raises(LockError, match=rf"^the lock: amd64: libfoo .*: {field} "):
        verify(with_packages(lock, packages))


def test_verify_lock_refuses_an_added_a_repeated_or_a_missing_package() -> None:
    lock = make_lock()
    packages = list(lock.archs["amd64"].packages)
    extra = packages[0].model_copy(update={"name": "rootkit"})
    with pytest.raises(LockError, match="rootkit 1.0 .amd64.: not in the spec's resolution"):
        verify(with_packages(lock, [*packages, extra]))
    with pytest.raises(LockError, match="app 1.0 .amd64.: not in the spec's resolution"):
        verify(with_packages(lock, [*packages, packages[0]]))
    with pytest.raises(LockError, match="lacks tzdata"):
        verify(with_packages(lock, [p for p in packages if p.name != "tzdata"]))


def test_verify_lock_refuses_indices_the_spec_does_not_name() -> None:
    lock = make_lock()
    amd64 = lock.archs["amd64"]
    evil = amd64.indices[0].model_copy(update={"uri": "file:///evil"})
    for indices, message in [
        ([*amd64.indices, evil], "pins the index file:///evil bookworm main amd64, which the"),
        (amd64.indices[:1], "does not pin exactly the indices of the spec's repositories"),
    ]:
        changed = lock.model_copy(
            update={"archs": {"amd64": amd64.model_copy(update={"indices": indices})}})
        with pytest.raises(LockError, match=message):
            verify(changed)


def test_verify_lock_names_a_package_whose_index_cannot_be_verified() -> None:
    lock = make_lock()
    amd64 = lock.archs["amd64"]
    forged = amd64.indices[1].model_copy(update={"sha256": "0" * 64})
    changed = lock.model_copy(update={"archs": {"amd64": amd64.model_copy(
        update={"indices": [amd64.indices[0], forged]})}})
    with pytest.raises(LockError, match=r"cannot verify libfoo 1.2-1\+deb12u1 \(amd64\): "
                                        "file:///srv/repo bookworm-security: not signed"):
        verify(changed)


def test_default_lock_path() -> None:
    assert default_lock_path("dir/image.yaml") == Path("dir/image.lock.json")
    assert default_lock_path("python.yml") == Path("python.lock.json")


def test_failed_write_keeps_the_old_lock_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "image.lock.json"
    old = '{"spec": "an earlier lock", "archs": {}}\n'  # only a lock is ever replaced
    path.write_text(old)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(LockError, match=f"{path}: cannot write lock file: No space left"):
        write_lock(make_lock(), path)
    assert path.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["image.lock.json"]


def test_write_into_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="cannot write lock file: No such file or directory"):
        write_lock(make_lock(), tmp_path / "missing" / "image.lock.json")


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_read_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    good = json.loads(dumps_lock(make_lock()))
    path = tmp_path / "image.lock.json"
    with pytest.raises(LockError, match=f"^{path}: cannot read lock file: No such file"):
        read_lock(path)
    path.write_text('{"version": 1,\n  "spec": }')
    with pytest.raises(LockError, match=f"^{path}:2:11: invalid JSON: Expecting value$"):
        read_lock(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(LockError, match="is not UTF-8 text"):
        read_lock(path)
    bad = json.loads(json.dumps(good))
    bad["archs"]["amd64"]["packages"][1]["sha256"] = "xyz"
    with pytest.raises(LockError, match=r"archs\.amd64\.packages\[1\]\.sha256: String should"):
        read_lock(_write_json(path, bad))
    bad = json.loads(json.dumps(good))
    del bad["archs"]["amd64"]["indices"][0]["release_sha256"]
    with pytest.raises(LockError, match=r"indices\[0\]\.release_sha256: Field required"):
        read_lock(_write_json(path, bad))
    bad = {**good, "extra": 1}
    with pytest.raises(LockError, match=r": extra: Extra inputs are not permitted"):
        read_lock(_write_json(path, bad))
    with pytest.raises(LockError, match="lock version 2 is not supported .* run zerocve lock"):
        read_lock(_write_json(path, {**good, "version": 2}))
    with pytest.raises(LockError, match=r"\(top level\): Input should be a valid dictionary"):
        read_lock(_write_json(path, [1, 2]))


# -- the lock a build uses (zerocve.api.lock_for_build) ---------------------------------------


def test_lock_for_build(tmp_path: Path) -> None:
    path = tmp_path / "image.lock.json"
    settings = Settings.from_env({"HOME": str(tmp_path)})

    def build_lock(spec: ImageSpec, repos: FakeRepos, locked: bool = False) -> Lock:
        indices = api.Indices(fetch=repos.fetch_indices)
        return api.lock_for_build(spec, path, settings, locked=locked, indices=indices)

    with pytest.raises(LockError, match="no lock file to build from"):
        build_lock(spec_of(), FakeRepos(), locked=True)
    # Without a file, a new resolution (not written).
    assert build_lock(spec_of(), FakeRepos()) == make_lock()
    assert not path.exists()
    # A fresh file is used as is, without fetching anything.
    written = make_lock().model_copy(update={"source_date_epoch": 42})
    write_lock(written, path)
    repos = FakeRepos()
    assert build_lock(spec_of(), repos, locked=True) == written
    assert repos.fetched == []
    # A stale one is re-resolved, or refused under --locked.
    changed = parse_spec(SPEC.replace("[app]", "[app, tzdata]"))
    with pytest.raises(LockError, match=f"{path}: stale"):
        build_lock(changed, repos, locked=True)
    assert build_lock(changed, repos).is_fresh_for(changed)


# -- against the signed loopback repository -------------------------------------------------


@pytest.mark.slow
def test_a_build_without_a_lock_reads_each_index_once(
    spec_file: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zerocve build` with no lock file resolves, then builds what it resolved: the build
    does not read the indices a second time to verify that lock (a verified-lock record
    stands for it), so nothing holds a full index's text while the image is built."""
    import zerocve.debian.repo as repo

    read: list[str] = []

    class Counted(repo.TextCatalog):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            read.append(args[2])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(repo, "TextCatalog", Counted)
    spec_path = spec_file(["tzdata"])
    settings = Settings.from_env({"HOME": str(tmp_path), "ZEROCVE_CACHE_DIR": str(tmp_path)})
    spec = load_spec(spec_path)
    lock = api.lock_for_build(spec, api.default_lock_path(spec_path), settings, record=True)
    assert read and not api.default_lock_path(spec_path).exists()
    resolved = list(read)
    built = api.build(spec, lock, settings)
    assert read == resolved  # no index read again
    assert [p.name for p in built.packages] == [p.name for p in lock.archs["amd64"].packages]
    # Without the record, verifying the lock reads the indices once more.
    other = tmp_path / "other"
    unrecorded = Settings.from_env({"HOME": str(tmp_path), "ZEROCVE_CACHE_DIR": str(other)})
    read.clear()
    lock = api.lock_for_build(spec, api.default_lock_path(spec_path), unrecorded)
    api.build(spec, lock, unrecorded)
    assert len(read) == 2 * len(resolved)


@pytest.mark.slow
def test_lock_from_the_real_repository(
    apt_repo: AptRepo, spec_file: Callable[..., Path], tmp_path: Path
) -> None:
    spec = load_spec(spec_file(["python3", "ca-certificates"], archs=["amd64"]))
    with RepoClient(tmp_path / "cache") as client:
        lock = lock_spec(spec, client.fetch_indices, list)
    assert lock.source_date_epoch == int(parsedate_to_datetime(DATE).timestamp())
    packages = {p.name: p for p in lock.archs["amd64"].packages}
    for wanted in ("python3", "libpython3.11-stdlib", "libssl3", "ca-certificates", "openssl"):
        assert wanted in packages
    for left_out in ("dpkg", "debconf", "tar", "perl-base"):
        assert left_out not in packages
    # Every recorded file, size and digest is the real one.
    for locked in packages.values():
        deb = apt_repo.root / locked.filename
        assert deb.stat().st_size == locked.size, locked.name
        assert hashlib.sha256(deb.read_bytes()).hexdigest() == locked.sha256, locked.name
        assert locked.uri == apt_repo.uri
    assert packages["python3"].source == "python3-defaults"
    assert [i.suite for i in lock.archs["amd64"].indices] == ["bookworm", "bookworm-security"]
    for recorded in lock.archs["amd64"].indices:
        listed = apt_repo.root / "dists" / recorded.suite / recorded.path
        assert hashlib.sha256(listed.read_bytes()).hexdigest() == recorded.sha256
        release = apt_repo.root / "dists" / recorded.suite / "Release"
        assert hashlib.sha256(release.read_bytes()).hexdigest() == recorded.release_sha256


def _zerocve(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_zerocve_lock_command(spec_file: Callable[..., Path]) -> None:
    spec = spec_file(["python3", "tzdata"], name="python.yaml", http=True)
    done = _zerocve("lock", spec)
    assert done.returncode == 0, done.stderr
    path = spec.parent / "python.lock.json"
    lock = read_lock(path)
    count = len(lock.archs["amd64"].packages)
    assert done.stdout.startswith(f"{path}: amd64: {count} packages, ")
    assert done.stdout.endswith(" MB of .debs\n")
    assert lock.is_fresh_for(load_spec(spec))
    assert lock.archs["amd64"].packages[0].uri.startswith("http://127.0.0.1:")
    # The same indices give the same bytes; -o writes elsewhere.
    other = spec.parent / "elsewhere.json"
    assert _zerocve("lock", spec, "-o", other).returncode == 0
    assert other.read_bytes() == path.read_bytes()


@pytest.mark.slow
def test_zerocve_lock_unknown_package_writes_nothing(spec_file: Callable[..., Path]) -> None:
    spec = spec_file(["pyhton3"])
    done = _zerocve("lock", spec)
    assert done.returncode == 3
    assert done.stderr.strip() == "error: unknown package 'pyhton3' (did you mean 'python3'?)"
    assert sorted(p.name for p in spec.parent.iterdir()) == [spec.name]
