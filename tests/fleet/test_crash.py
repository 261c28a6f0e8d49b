"""Point 3: `kill -9` at several points of a cycle, start again, and the cycle completes with
nothing built, pushed or tagged twice, no event lost and no staging tag left behind.

The registry fixture sits behind the loopback fault proxy, which counts every request (and
slows tag writes a little, so the moment before the tag move can be caught); the store is
watched from here to kill the process once the job has reached the point under test."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from support.aptrepo import AptRepo
from support.faultproxy import FaultProxy
from support.fleetkit import osv_db, write_spec
from support.registry import Registry

pytestmark = pytest.mark.slow


def job_state(store: Path) -> str | None:
    if not store.exists():
        return None
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT state FROM jobs ORDER BY id LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return None
    return row[0] if row else None


def staging_container_running(state_dir: Path) -> bool:
    """A staging container of this state dir's podman storage is running."""
    root = f"--root={state_dir / 'podman' / 'storage'}"
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if root.encode() in argv and b"run" in argv:
            return True
    return False


POINTS = {
    "after-lock": lambda store, state: job_state(store) == "locked",
    "after-push-to-staging": lambda store, state: job_state(store) == "pushed-staging",
    "during-tests": lambda store, state: staging_container_running(state),
    "before-tag-move": lambda store, state: job_state(store) == "staged",
}


def slow_tag_writes(method: str, path: str, seen: int) -> None:
    if method == "PUT" and "/manifests/" in path and "sha256:" not in path:
        time.sleep(0.3)
    return None


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_9_then_restart_completes_the_cycle_once(
    point: str, apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    env = osv_db(tmp_path / "user", "tzdata", "9999z-1")  # known CVE, no fix anywhere
    store = tmp_path / "user" / "state" / "fleet.sqlite"
    state_dir = tmp_path / "user" / "state"
    write_spec(tmp_path, "app", apt_repo, ["dash", "tzdata"],
               test=[["/bin/sh", "-c", "sleep 3; echo tested"]])
    with FaultProxy(registry.host, slow_tag_writes) as proxy:
        repository = f"{proxy.host}/crash/{point}"
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(yaml.safe_dump({"images": [{"spec": "app.yaml", "name": "app",
                                                     "repository": repository}]}))
        command = [sys.executable, "-m", "zerocve", "fleet", "run", str(fleet), "--once"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while not POINTS[point](store, state_dir):
            assert first.poll() is None, f"the cycle ended before {point}: {first.stderr.read()}"
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = job_state(store)
        assert at_kill not in ("promoted", None), at_kill

        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip().endswith("promoted")
        log = list(proxy.log)

    with sqlite3.connect(store) as db:
        (digest,) = db.execute("SELECT digest FROM jobs").fetchone()
        moves = [m for (m,) in db.execute(
            "SELECT message FROM events WHERE kind = 'job-state' ORDER BY id")]
        promoted = db.execute("SELECT count(*) FROM events WHERE kind = 'promoted'").fetchone()
    # No event lost, none twice: each step recorded exactly once, in order.
    assert [m.split(": ", 1)[1] for m in moves] == [
        "pending → locked", "locked → built", "built → pushed-staging",
        "pushed-staging → staged", "staged → promoted",
    ]
    assert promoted == (1,)
    # Nothing pushed twice: each blob uploaded at most once, across both runs.
    uploads = Counter(
        re.search(r"digest=(sha256(?:%3A|:)[0-9a-f]{64})", path).group(1)  # type: ignore[union-attr]
        for method, path, _ in log if method == "PUT" and "/blobs/uploads/" in path
    )
    assert uploads and max(uploads.values()) == 1
    # No tag moved twice; the tag is where it should be; no staging tag left.
    tag_puts = Counter(path.rsplit("/", 1)[1] for method, path, _ in log
                       if method == "PUT" and re.search(r"/manifests/[^s][^/]*$", path))
    assert tag_puts["latest"] == 1
    base = f"http://{registry.host}/v2"
    head = httpx.head(f"{base}/crash/{point}/manifests/latest",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert head.headers["Docker-Content-Digest"] == digest
    staging = httpx.get(f"{base}/crash/{point}-staging/tags/list").json()
    assert not staging.get("tags")
