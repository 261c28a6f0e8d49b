"""A spec edit whose rebuild failed staging, end to end (the loopback apt repository and
registry, podman staging, an SQLite store): checks after it plan nothing for that image and
read no index, `fleet status` shows it as failed-staging with the test that failed, new
advisory data for a source it holds plans it again (its failed job stays failed), and the
next spec edit is planned (and staged, and promoted) again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_promote import tag_digest

from support.aptrepo import AptRepo
from support.data import advisory
from support.fleetkit import osv_db, write_spec
from support.registry import Registry
from zerocve.fleet.check import check
from zerocve.fleet.config import load_fleet
from zerocve.fleet.cycle import Runner, run_cycle
from zerocve.fleet.models import JobState
from zerocve.fleet.plan import Verdict
from zerocve.fleet.report import fleet_status
from zerocve.fleet.store import Store, store_url
from zerocve.settings import Settings

pytestmark = pytest.mark.slow

PASSES = [["/bin/sh", "-c", "echo ok"]]
FAILS = [["/bin/sh", "-c", "echo no greeting >&2; exit 7"]]


def zerocve_in(env: dict[str, str]):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                              text=True, timeout=120, env={**env, "COLUMNS": "300"})
    return run


def test_a_spec_edit_that_failed_staging_is_not_planned_again_until_the_spec_changes(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    env = osv_db(tmp_path / "user", "tzdata", "9999z-1")
    settings = Settings.from_env(env)
    zerocve = zerocve_in(env)
    spec = write_spec(tmp_path, "app", apt_repo, ["dash"], entrypoint={"command": "/bin/dash"},
                      test=PASSES)  # fmt: skip
    feed = tmp_path / "user" / "feed"  # the advisory DB's OSV records, watched
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({
        "images": [{"spec": "app.yaml", "name": "app",
                    "repository": f"{registry.host}/failed/app"}],
        "watch": {"advisories": [{"osv": str(feed)}]},
    }))  # fmt: skip
    fleet = load_fleet(tmp_path / "fleet.yaml")
    url = store_url(None, tmp_path / "state")
    indices = settings.cache_dir / "indices"  # the parsed indices a plan reads

    def latest() -> str | None:
        return tag_digest(registry.host, "failed/app", "latest")

    def edit(**fields: object) -> None:
        spec.write_text(yaml.safe_dump({**yaml.safe_load(spec.read_text()), **fields}))

    with Store.open(url) as store:
        runner = Runner(store, settings)
        assert [o.state for o in run_cycle(runner, fleet).outcomes] == [JobState.PROMOTED]
        first = latest()
        assert first is not None

        edit(entrypoint={"command": "/bin/dash -c 'echo hello'"}, test=FAILS)
        failing = run_cycle(runner, fleet)
        ((job, state),) = [(o.job_id, o.state) for o in failing.outcomes]
        assert state is JobState.FAILED and latest() == first
        assert indices.is_dir()

        for _ in range(2):  # two checks in a row, each a new process: no plan, no index read
            shutil.rmtree(indices, ignore_errors=True)
            done = zerocve("fleet", "check", str(tmp_path / "fleet.yaml"), "--store", url)
            assert (done.returncode, done.stdout) == (0, "nothing to rebuild\n"), done.stderr
            assert not indices.exists()
            result = check(store, fleet, settings)
            (planned,) = result.plans
            assert (result.planned, result.jobs) == (False, {})
            assert planned.verdict is Verdict.FAILED_STAGING
            assert planned.why.startswith(f"job {job} failed staging: test [/bin/sh -c echo no "
                                          "greeting >&2; exit 7] exited 7; "), planned.why
        assert run_cycle(runner, fleet).outcomes == ()
        (status,) = fleet_status(store, fleet)
        assert status.failed_staging is not None and status.failed_staging.job == job
        assert status.failed_staging.reason in planned.why

        shown = zerocve("fleet", "status", str(tmp_path / "fleet.yaml"), "--store", url)
        assert shown.returncode == 0, shown.stderr
        assert f"failed-staging (job {job}): test [/bin/sh" in shown.stdout
        as_json = zerocve("fleet", "status", str(tmp_path / "fleet.yaml"), "--store", url,
                          "-o", "json")  # fmt: skip
        (row,) = json.loads(as_json.stdout)
        assert row["failed_staging"]["job"] == job and row["digest"] == first

        # New advisory data for a source it holds: planned again (its failed job is found,
        # and stays failed), then quiet again.
        record = advisory("dash", "0.1-1") | {"id": "CVE-2099-0002"}
        (feed / "CVE-2099-0002.json").write_text(json.dumps(record))
        result = check(store, fleet, settings)
        (planned,) = result.plans
        assert (result.planned, planned.verdict, result.jobs) == (True, Verdict.REBUILD,
                                                                  {"app": job})  # fmt: skip
        assert check(store, fleet, settings).plans[0].verdict is Verdict.FAILED_STAGING

        edit(test=PASSES)  # the spec changes again: planned, its indices read
        done = zerocve("fleet", "check", str(tmp_path / "fleet.yaml"), "--store", url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"app: rebuild planned (job {job + 1}): the spec changed")
        assert indices.is_dir()
        (planned,) = check(store, fleet, settings, record=False).plans
        assert planned.verdict is Verdict.REBUILD
        assert [o.state for o in run_cycle(runner, fleet).outcomes] == [JobState.PROMOTED]
        assert latest() not in (None, first)
        (status,) = fleet_status(store, fleet)
        assert status.failed_staging is None
