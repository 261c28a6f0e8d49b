"""Point 12 end to end, real: a signed loopback apt repository with an old tzdata, three
images (two carry tzdata), the registry fixture, podman for staging, and the daemon.

Debian "ships a fix" (the real bookworm-security tzdata .deb is published into the
repository); within a poll the daemon rebuilds, stages and promotes exactly the two images
that carry it, with changelogs naming the version change; the third is untouched; a poll
with no change does nothing; a spec whose test fails keeps its old tag; a rollback moves
the tag back and holds the image."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from test_promote import tag_digest

from support.aptrepo import SigningKey
from support.fleetkit import fleet_repo, osv_db, write_spec
from support.registry import Registry, free_port

pytestmark = pytest.mark.slow

SHELL_TEST = [["/bin/sh", "-c", "test -e /usr/share/zoneinfo/UTC || test ! -d /usr/share/zoneinfo"]]
TOKEN = "s3cret-token-for-the-e2e-test"


def cycles_done(directory: Path) -> int:
    return (directory / "serve.log").read_text().count('"cycle done"')


def zerocve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def events(store: Path, image: str | None = None) -> list[tuple[str, str]]:
    with sqlite3.connect(store) as db:
        query = ("SELECT e.kind, e.message FROM events e LEFT JOIN images i ON i.id = e.image_id"
                 + (" WHERE i.name = ?" if image else "") + " ORDER BY e.id")
        return list(db.execute(query, (image,) if image else ()))


@pytest.fixture
def fleet(tmp_path: Path, signing_key: SigningKey, registry: Registry) -> Iterator[dict]:
    repo, fix = fleet_repo(tmp_path / "repo", signing_key,
                           ["dash", "coreutils", "tzdata", "base-files"], held_back="tzdata")
    fixed_version = fix[0].name.split("_")[1]
    env = osv_db(tmp_path / "user", "tzdata", fixed_version)
    specs = tmp_path / "images"
    specs.mkdir()
    for name, packages in (("alpha", ["dash", "tzdata"]),
                           ("beta", ["dash", "coreutils", "tzdata"]),
                           ("gamma", ["dash", "coreutils"])):
        write_spec(specs, name, repo, packages, test=SHELL_TEST)
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump({
        "images": [{"spec": "images/*.yaml", "repository": f"{registry.host}/e2e/{{name}}",
                    "tags": ["latest", "12"]}],
        "watch": {"interval": "4s"},
    }))
    yield {"repo": repo, "fix": fix, "env": env, "file": fleet_file, "specs": specs,
           "store": tmp_path / "user" / "state" / "fleet.sqlite", "host": registry.host,
           "fixed": fixed_version}


def tags(host: str, name: str) -> tuple[str | None, str | None]:
    return tag_digest(host, f"e2e/{name}", "latest"), tag_digest(host, f"e2e/{name}", "12")


def test_a_fix_reaches_exactly_the_images_that_carry_it(fleet: dict, tmp_path: Path):
    env, host, store = fleet["env"], fleet["host"], fleet["store"]
    first = zerocve("fleet", "run", str(fleet["file"]), "--once", env=env)
    assert first.returncode == 0, first.stderr
    before = {name: tags(host, name) for name in ("alpha", "beta", "gamma")}
    for latest, twelve in before.values():
        assert latest is not None and latest == twelve
    assert tag_digest(host, "e2e/alpha-staging", f"stage-{before['alpha'][0][7:23]}") is None

    again = zerocve("fleet", "run", str(fleet["file"]), "--once", env=env)
    assert (again.returncode, again.stdout.strip()) == (0, "nothing to do")

    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "zerocve", "fleet", "serve", str(fleet["file"]),
         "--listen", f"127.0.0.1:{port}", "--token-file", str(token)],
        env=env, stderr=log, stdout=subprocess.DEVNULL,
    )
    try:
        wait_for("the daemon's first cycle", lambda: cycles_done(tmp_path) > 0, 60)
        published = time.monotonic()
        fleet["repo"].publish(fleet["fix"], "bookworm-security")
        wait_for("alpha and beta promoted",
                 lambda: all(tags(host, n)[0] != before[n][0] for n in ("alpha", "beta")))
        assert time.monotonic() - published < 240
        after = {name: tags(host, name) for name in ("alpha", "beta", "gamma")}
        assert after["gamma"] == before["gamma"]
        for name in ("alpha", "beta"):
            assert after[name][0] == after[name][1] != before[name][0]
        promoted = [m for k, m in events(store) if k == "promoted"]
        assert len(promoted) == 5  # three first builds, then alpha and beta
        for line in promoted[3:]:
            assert "tzdata" in line and f"→ {fleet['fixed']}" in line
        assert [k for k, _ in events(store, "gamma")] == ["image-added", "planned", "job-state",
            "job-state", "job-state", "job-state", "job-state", "promoted"]  # first build only

        # The changelog: packages, the CVE the new tzdata fixes, digests, tests.
        history = zerocve("fleet", "history", "alpha", "-o", "json", env=env)
        entry = json.loads(history.stdout)[-1]["data"]
        assert [p["name"] for p in entry["packages"]] == ["tzdata"]
        fixed = entry["vulnerabilities"]["fixed"]
        assert [(f["vulnerability"], f["package"]) for f in fixed] == [("CVE-2099-0001", "tzdata")]
        assert (entry["digest_old"], entry["digest_new"]) == (before["alpha"][0], after["alpha"][0])
        assert entry["tests"][0]["exit_code"] == 0
        assert 0 < entry["bytes_pushed"] < 2_000_000  # the tzdata layer and the metadata
        (remediation,) = entry["remediations"]
        assert remediation["vulnerability"] == "CVE-2099-0001"

        # A poll with no change: no job, no push, no event.
        count = len(events(store))
        hook = f"http://127.0.0.1:{port}/hooks/check"
        assert httpx.post(hook, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(hook).status_code == 401
        cycles = cycles_done(tmp_path)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(hook, headers=bearer).status_code == 202
        wait_for("a no-change cycle", lambda: cycles_done(tmp_path) > cycles, 60)
        assert len(events(store)) == count

        # Beta's spec now also wants base-files, and its test fails: the tag stays.
        spec = yaml.safe_load((fleet["specs"] / "beta.yaml").read_text())
        spec["contents"]["packages"].append("base-files")
        spec["test"] = [["/bin/sh", "-c", "echo broken; exit 3"]]
        (fleet["specs"] / "beta.yaml").write_text(yaml.safe_dump(spec))
        wait_for("beta's stage to fail",
                 lambda: any(k == "stage-failed" for k, _ in events(store, "beta")))
        assert tags(host, "beta") == after["beta"]
        failed = [m for k, m in events(store, "beta") if k == "stage-failed"]
        assert len(failed) == 1 and "exited 3" in failed[0]
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    assert lines[-1]["message"] == "stopped"

    # Rollback: the tags go back and stay there.
    rolled = zerocve("fleet", "rollback", "alpha", env=env)
    assert rolled.returncode == 0, rolled.stderr
    assert tags(host, "alpha") == before["alpha"]
    again = zerocve("fleet", "run", str(fleet["file"]), "--once", env=env)
    assert again.returncode == 0, again.stderr
    assert tags(host, "alpha") == before["alpha"]
    kinds = [k for k, _ in events(store, "alpha")]
    assert kinds.count("rolled-back") == 1 and "promoted" not in kinds[kinds.index("held"):]
    resumed = zerocve("fleet", "resume", "alpha", env=env)
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
