"""Roll back, then resume: the build the operator rolled back is not promoted again by a
resume (its job is ``rolled-back``, and the planner refuses its target), only by `fleet resume
IMAGE --repromote`; on the loopback registry, with podman staging, in process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from test_fleet_run_cli import zerocve
from test_promote import tag_digest

from support.aptrepo import AptRepo
from support.fleetkit import osv_db, write_spec
from support.registry import Registry
from zerocve.errors import FleetError
from zerocve.fleet.check import check
from zerocve.fleet.config import load_fleet
from zerocve.fleet.cycle import Runner, run_cycle
from zerocve.fleet.models import JobState
from zerocve.fleet.plan import Verdict
from zerocve.fleet.rollback import resume, rollback
from zerocve.fleet.store import Store, store_url
from zerocve.settings import Settings

pytestmark = pytest.mark.slow


def test_a_rolled_back_build_stays_off_until_the_operator_allows_it_again(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    env = osv_db(tmp_path / "user", "tzdata", "9999z-1")
    settings = Settings.from_env(env)
    test = [["/bin/sh", "-c", "echo ok"]]
    write_spec(tmp_path, "app", apt_repo, ["dash"], test=test)
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"images": [
        {"spec": "app.yaml", "name": "app", "repository": f"{registry.host}/rb/app"}]}))
    fleet = load_fleet(tmp_path / "fleet.yaml")

    def latest() -> str | None:
        return tag_digest(registry.host, "rb/app", "latest")

    def promoted(report) -> list[JobState]:
        return [o.state for o in report.outcomes]

    with Store.open(store_url(None, settings.state_dir)) as store:
        runner = Runner(store, settings)
        assert promoted(run_cycle(runner, fleet)) == [JobState.PROMOTED]
        first = latest()
        write_spec(tmp_path, "app", apt_repo, ["dash", "base-files"], test=test)  # an input
        assert promoted(run_cycle(runner, fleet)) == [JobState.PROMOTED]
        second = latest()
        assert second not in (first, None)

        with pytest.raises(FleetError, match="app: never rolled back: nothing to re-promote"):
            resume(runner, "app", repromote=True)
        done = rollback(runner, "app")
        assert (done.before, done.after, latest()) == (second, first, first)
        assert run_cycle(runner, fleet).outcomes == ()  # held
        assert latest() == first

        resumed = resume(runner, "app")
        assert (resumed.was_held, resumed.repromoted, resumed.refused) == (True, (), (second,))
        (dry,) = check(store, fleet, settings, record=False).plans
        assert dry.verdict is Verdict.ROLLED_BACK
        report = run_cycle(runner, fleet)
        assert (report.planned, report.outcomes, report.errors) == ((), (), ())
        assert latest() == first  # resumed, and still not re-promoted

        again = resume(runner, "app", repromote=True)
        assert (again.was_held, again.repromoted, again.refused) == (False, (second,), ())
        assert promoted(run_cycle(runner, fleet)) == [JobState.PROMOTED]
        assert latest() == second
        with pytest.raises(FleetError, match="app: never rolled back|promoted after the last"):
            resume(runner, "app", repromote=True)

    with sqlite3.connect(settings.state_dir / "fleet.sqlite") as db:
        kinds = [k for (k,) in db.execute(
            "SELECT kind FROM events WHERE kind IN ('promoted', 'rolled-back', 'held', "
            "'resumed') ORDER BY id")]  # fmt: skip
        states = [s for (s,) in db.execute("SELECT state FROM jobs ORDER BY id")]
    assert kinds == ["promoted", "promoted", "rolled-back", "held", "resumed", "resumed",
                     "promoted"]  # fmt: skip
    assert states == ["promoted", "promoted"]

    shown = zerocve("fleet", "resume", "app", "--repromote", env=env)
    assert shown.returncode == 3
    assert shown.stderr.strip().splitlines() == [
        f"error: app: {second[:19]} was promoted after the last rollback: nothing to re-promote"
    ]
