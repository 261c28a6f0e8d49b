"""Point 13 for the running half, in process: podman missing, and a registry answering 500
when the tags move. Each is one line and an ``error`` event, the published tags stay as they
were, the job keeps its recorded step, and the next cycle carries on from there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
import yaml

from support.aptrepo import AptRepo
from support.faultproxy import ANSWER_500, FaultProxy
from support.fleetkit import osv_db, write_spec
from support.registry import Registry
from zerocve.fleet.config import load_fleet
from zerocve.fleet.cycle import Runner, run_cycle
from zerocve.fleet.models import JobState
from zerocve.fleet.store import Store, store_url
from zerocve.settings import Settings

pytestmark = pytest.mark.slow


def test_missing_podman_then_a_failing_registry_then_done(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    env = osv_db(tmp_path / "user", "tzdata", "9999z-1")
    settings = Settings.from_env(env)
    write_spec(tmp_path, "app", apt_repo, ["dash"], test=[["/bin/sh", "-c", "echo ok"]])
    failing = {"on": True}

    def tag_puts_fail(method: str, path: str, seen: int) -> str | None:
        tag_put = method == "PUT" and "/manifests/" in path and "sha256:" not in path
        return ANSWER_500 if failing["on"] and tag_put and "/fault/app/" in path else None

    with FaultProxy(registry.host, tag_puts_fail) as proxy:
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"images": [
            {"spec": "app.yaml", "name": "app", "repository": f"{proxy.host}/fault/app"}
        ]}))
        fleet = load_fleet(tmp_path / "fleet.yaml")
        with Store.open(store_url(None, settings.state_dir)) as store:
            missing = run_cycle(Runner(store, settings, podman="no-such-podman"), fleet)
            assert [o.state for o in missing.outcomes] == [JobState.PUSHED_STAGING]
            assert missing.errors == (
                "app: pushed-staging step: no-such-podman: not found on PATH; install podman "
                "(apt-get install podman) to stage images",
            )

            refused = run_cycle(Runner(store, settings), fleet)  # retried, then given up
            assert [o.state for o in refused.outcomes] == [JobState.STAGED]
            (line,) = refused.errors
            assert line.startswith("app: staged step: ") and "put manifest" in line
            assert "HTTP 500" in line
            failing["on"] = False
            done = run_cycle(Runner(store, settings), fleet)
            assert [o.state for o in done.outcomes] == [JobState.PROMOTED] and not done.errors

    assert httpx.head(f"http://{registry.host}/v2/fault/app/manifests/latest",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
                      ).status_code == 200
    with sqlite3.connect(settings.state_dir / "fleet.sqlite") as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds.count("error") == 2 and kinds.count("promoted") == 1
