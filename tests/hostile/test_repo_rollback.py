"""A mirror cannot take fixes back: a Release older than the newest one seen from the same
repository is refused, even while its signature and Valid-Until still hold (a freeze or
rollback attack, which apt does not catch) (issue 6, point 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.aptrepo import DATE, SigningKey, resign
from support.lockkit import SUITE, hello_debs, package_entry, signed_repo, write_spec, zerocve

pytestmark = pytest.mark.slow

LATER = "Sun, 15 Nov 2026 00:00:00 UTC"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.create(tmp_path_factory.mktemp("gnupg"))


def locked_version(lock: Path) -> str:
    return str(package_entry(json.loads(lock.read_text()), "hello")["version"])


def test_a_replayed_older_release_is_refused(tmp_path: Path, key: SigningKey) -> None:
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs"))
    old_dists = tmp_path / "dists-1.0"
    shutil.copytree(repo.root / "dists", old_dists)  # signed, dated DATE, still valid
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    assert zerocve("lock", spec).returncode == 0
    # The fix ships: 1.1, in a Release dated later.
    repo.publish(hello_debs(tmp_path / "debs-1.1", "1.1"), SUITE)
    resign(repo, lambda text: text.replace(f"Date: {DATE}", f"Date: {LATER}"))
    assert zerocve("lock", spec).returncode == 0
    lock = tmp_path / "image.lock.json"
    assert locked_version(lock) == "1.1"
    # The mirror replays the old Release: its signature verifies, it has no Valid-Until.
    shutil.rmtree(repo.root / "dists")
    shutil.copytree(old_dists, repo.root / "dists")
    done = zerocve("lock", spec)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"{repo.uri} {SUITE}" in line and "older than" in line and "rollback" in line
    assert locked_version(lock) == "1.1"
    # The lock (1.1) still builds: its Release was kept when it was verified.
    build = zerocve("build", spec, "-o", tmp_path / "out", "--no-scan", "--locked")
    assert build.returncode == 0, build.stderr
    # A build that re-resolves is refused like the lock: nothing is built from the old index.
    write_spec(spec, repo, ["hello", "hello-lib"])  # stale now: the build must re-resolve
    again = zerocve("build", spec, "-o", tmp_path / "out2", "--no-scan")
    assert again.returncode == 3 and "older than" in again.stderr, again.stderr
    assert not (tmp_path / "out2").exists()


def test_a_relock_never_lowers_a_version_without_the_flag(
    tmp_path: Path, key: SigningKey
) -> None:
    """The mirror withdraws the fix in a Release no older than the last one: the new lock would
    take hello from 1.1 back to 1.0, which only --allow-downgrade may do."""
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs", "1.1"))
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    assert zerocve("lock", spec).returncode == 0
    lock = tmp_path / "image.lock.json"
    for deb in (repo.root / "pool" / SUITE).iterdir():
        deb.unlink()
    repo.publish(hello_debs(tmp_path / "debs-1.0", "1.0"), SUITE)
    done = zerocve("lock", spec)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "hello" in line and "1.1" in line and "1.0" in line and "--allow-downgrade" in line
    assert locked_version(lock) == "1.1"
    # A build that re-resolves (the spec changed) is a re-lock too: refused the same way.
    write_spec(spec, repo, ["hello", "hello-lib"])
    build = zerocve("build", spec, "-o", tmp_path / "out", "--no-scan")
    assert build.returncode == 3 and "downgrade hello:amd64 1.1 → 1.0" in build.stderr
    assert not (tmp_path / "out").exists()
    allowed = zerocve("lock", spec, "--allow-downgrade")
    assert allowed.returncode == 0, allowed.stderr
    assert locked_version(lock) == "1.0"
