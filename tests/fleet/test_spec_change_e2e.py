"""A spec edited outside its contents, end to end: on a PostgreSQL store, the loopback apt
repository and registry, with podman staging, in process. An edited entrypoint is rebuilt from
the published lock (not re-resolved), staged and promoted with the new config and a changelog
naming the change; an unchanged spec and a comment-only edit stay quiet; an edit that does not
change the image (its tests) rebuilds to the same digest and pushes nothing; a rollback holds,
and the rolled-back digest is not promoted again by an edit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from test_promote import tag_digest

from support.aptrepo import AptRepo
from support.fleetkit import osv_db, write_spec
from support.postgres import Postgres
from support.registry import Registry
from zerocve.fleet.check import check
from zerocve.fleet.config import load_fleet
from zerocve.fleet.cycle import Runner, run_cycle
from zerocve.fleet.models import DigestRecord, EventKind, Image, Job, JobState
from zerocve.fleet.plan import Verdict
from zerocve.fleet.rollback import resume, rollback
from zerocve.fleet.store import Store, store_url
from zerocve.settings import Settings

pytestmark = pytest.mark.slow

TEST = [["/bin/sh", "-c", "echo ok"]]


def entrypoint(host: str, digest: str) -> list[str]:
    """The pushed image's config, as skopeo reads it from the registry."""
    shown = subprocess.run(
        ["skopeo", "inspect", "--config", "--tls-verify=false",
         f"docker://{host}/spec/app@{digest}"],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "REGISTRY_AUTH_FILE": "/nonexistent/auth.json"},
    )  # fmt: skip
    return json.loads(shown.stdout)["config"]["Entrypoint"]


def test_an_edited_entrypoint_is_rebuilt_staged_and_promoted_and_nothing_else_is(
    apt_repo: AptRepo, registry: Registry, postgres: Postgres, tmp_path: Path
):
    settings = Settings.from_env(osv_db(tmp_path / "user", "tzdata", "9999z-1"))
    spec = write_spec(tmp_path, "app", apt_repo, ["dash"], entrypoint={"command": "/bin/dash"},
                      test=TEST)  # fmt: skip
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump({"images": [
        {"spec": "app.yaml", "name": "app", "repository": f"{registry.host}/spec/app"}]}))
    fleet = load_fleet(tmp_path / "fleet.yaml")

    def latest() -> str | None:
        return tag_digest(registry.host, "spec/app", "latest")

    def states(report) -> list[JobState]:
        return [o.state for o in report.outcomes]

    def quiet() -> None:
        before = latest()
        assert check(store, fleet, settings, record=False).planned is False
        report = run_cycle(runner, fleet)
        assert (report.planned, report.outcomes, report.errors) == ((), (), ())
        assert latest() == before

    url = store_url(postgres.create_database("specchange"), tmp_path)
    with Store.open(url) as store:
        runner = Runner(store, settings)
        assert states(run_cycle(runner, fleet)) == [JobState.PROMOTED]
        first = latest()
        assert first is not None and entrypoint(registry.host, first) == ["/bin/dash"]
        quiet()  # nothing changed

        spec.write_text("# the app image\n" + spec.read_text().replace("\n", "  # note\n", 1))
        quiet()  # a comment-only edit

        edited = yaml.safe_load(spec.read_text())
        edited["entrypoint"] = {"command": "/bin/dash -c 'echo hello'"}
        spec.write_text(yaml.safe_dump(edited))
        (dry,) = check(store, fleet, settings, record=False).plans
        assert (dry.verdict, dry.why, dry.moves) == (
            Verdict.REBUILD, "the spec changed: entrypoint", ())
        report = run_cycle(runner, fleet)
        assert states(report) == [JobState.PROMOTED]
        second = latest()
        assert second not in (None, first)
        assert entrypoint(registry.host, second) == ["/bin/dash", "-c", "echo hello"]
        with store.session() as s:
            image = store.image(s, "app")
            job = s.get(Job, report.outcomes[0].job_id)
            built = [s.get(DigestRecord, d) for d in s.scalars(
                DigestRecord.__table__.select().with_only_columns(DigestRecord.id)
                .order_by(DigestRecord.id))]  # fmt: skip
            assert job is not None and built[0] is not None and built[1] is not None
            # the published lock, not a re-resolution: the same lock record as the first build
            assert job.lock_id == built[0].lock_id == built[1].lock_id
            (promoted,) = [e for e in store.events(s, image=image, kinds=[EventKind.PROMOTED])
                           if e.job_id == job.id]  # fmt: skip
            assert promoted.data["spec_change"] == "the spec changed: entrypoint"
            assert "the spec changed: entrypoint" in promoted.message
        quiet()  # the new spec is recorded with its digest

        edited["test"] = [*TEST, ["/bin/sh", "-c", "test -x /bin/dash"]]
        spec.write_text(yaml.safe_dump(edited))
        assert states(run_cycle(runner, fleet)) == [JobState.SKIPPED]  # the same digest
        assert latest() == second
        quiet()

        # Roll back: held, then resumed. The spec differs from the one the tags went back to,
        # but the build it gives is the one the operator rolled back: never promoted again.
        assert rollback(runner, "app").after == first and latest() == first
        assert run_cycle(runner, fleet).outcomes == ()  # held
        resume(runner, "app")
        assert run_cycle(runner, fleet).outcomes == ()  # that target's job is done: skipped
        edited["test"] = [*TEST, ["/bin/sh", "-c", "test -x /bin/sh"]]  # another target
        spec.write_text(yaml.safe_dump(edited))
        report = run_cycle(runner, fleet)
        assert states(report) == [JobState.SKIPPED] and latest() == first
        with store.session() as s:
            skipped = s.get(Job, report.outcomes[0].job_id)
            assert skipped is not None and skipped.digest == second
            assert "which the operator rolled back" in str(skipped.error)
            assert s.get(Image, skipped.image_id).published_digest == first  # type: ignore[union-attr]
