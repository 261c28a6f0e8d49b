"""`zerocve fleet status` and `zerocve fleet history`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from zerocve.fleet.config import load_fleet
from zerocve.fleet.models import EventKind, JobState
from zerocve.fleet.store import Store, store_url

DIGEST = "sha256:" + "c" * 64
SUMMARY = "libssl3 3.0.11-1 → 3.0.13-1; fixes CVE-2024-0727; 1.2 MB pushed; remediated in 4m 10s"


def zerocve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)  # fmt: skip


@pytest.fixture
def fleet_dir(tmp_path: Path, clock) -> Path:
    for name in ("python", "static"):
        (tmp_path / f"{name}.yaml").write_text("contents: {packages: [tzdata]}\n")
    (tmp_path / "fleet.yaml").write_text(
        "images:\n  - spec: '*.yaml'\n    repository: 'localhost:5000/team/{name}'\n"
    )
    (tmp_path / "fleet.yaml").rename(tmp_path / "fleet.yml")  # not matched by the glob
    url = store_url(None, tmp_path / "state")
    with Store.open(url, clock=clock) as store, store.session() as s:
        python = store.sync_images(s, load_fleet(tmp_path / "fleet.yml"))["python"]
        store.record_digest(s, python, DIGEST, packages=36, fixable=0, open=3)
        python.published_digest = DIGEST
        python.published_at = clock.now - timedelta(hours=5)
        job = store.ensure_job(s, python, "sha256:" + "1" * 64, {})
        store.advance(s, job, JobState.LOCKED)
        store.add_event(s, EventKind.PROMOTED, "python: sha256:aaaa → sha256:cccc",
                        image=python, data={"fixed": ["CVE-2024-0727"], "summary": SUMMARY})

    return tmp_path


def test_status_lists_every_image_as_json(fleet_dir: Path):
    store = f"sqlite:///{fleet_dir / 'state' / 'fleet.sqlite'}"
    done = zerocve("fleet", "status", "fleet.yml", "--store", store, "-o", "json", cwd=fleet_dir)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    python, static = rows["python"], rows["static"]
    assert python["digest"] == DIGEST and python["tags"] == ["latest"]
    assert (python["packages"], python["fixable"], python["open"]) == (36, 0, 3)
    assert python["age_seconds"] >= 5 * 3600 and python["held"] is False
    assert python["last_event"]["kind"] == "promoted"
    assert static["digest"] is None and static["last_event"]["kind"] == "image-added"


def test_status_table_says_never_promoted(fleet_dir: Path):
    store = f"sqlite:///{fleet_dir / 'state' / 'fleet.sqlite'}"
    done = zerocve("fleet", "status", "fleet.yml", "--store", store, cwd=fleet_dir)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if "│" in line[:2]}
    assert "never promoted" in lines["static"] and "sha256:cccccccccccc" in lines["python"]


def test_history_shows_what_happened_to_the_image_not_job_steps(fleet_dir: Path):
    store = f"sqlite:///{fleet_dir / 'state' / 'fleet.sqlite'}"
    done = zerocve("fleet", "history", "python", "--store", store, "-o", "json", cwd=fleet_dir)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [e["kind"] for e in entries] == ["promoted"]
    assert entries[0]["data"] == {"fixed": ["CVE-2024-0727"], "summary": SUMMARY}
    table = zerocve("fleet", "history", "python", "--store", store, cwd=fleet_dir)
    assert table.returncode == 0, table.stderr
    assert "remediated in 4m 10s" in table.stdout and "job-state" not in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["fleet", "history", "nope"], 3, "no image named 'nope' in the store"),
        (["fleet", "status", "missing.yaml"], 3, "missing.yaml: cannot read fleet file"),
        (["fleet", "status", "fleet.yml", "--store", "mysql://x@y/z"], 2, "--store"),
    ],
)
def test_mistakes_are_one_line_with_the_documented_exit_code(fleet_dir, args, code, message):
    store = ["--store", f"sqlite:///{fleet_dir / 'state' / 'fleet.sqlite'}"]
    done = zerocve(*args, *([] if "--store" in args else store), cwd=fleet_dir)
    assert done.returncode == code and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
