#!/usr/bin/env python3
"""A fleet of images sharing most packages; one package gets a fix in the loopback apt
repository; how fast and how quietly does the fleet follow?

Everything is real and local: a signed apt repository of the host's own bookworm .debs on
loopback (the bookworm-security tzdata held back), Debian's docker-registry on 127.0.0.1,
podman staging, the advisory DB from one OSV record the new tzdata fixes. The fleet is built
and promoted once (not timed), then the fix is published and `zerocve fleet run --once` is
timed from publication to its end (the last promotion). Printed:

- time from publication to the last promotion (goal: under 3 minutes on 2 cores),
- rebuilds done, against the images that hold the package (must be equal),
- bytes pushed for the fix, against the fleet's total size in the registry (goal: < 5%),
- the time of a no-change cycle, in the running daemon and as a whole command with Python's
  start-up and imports (goal: < 2 s),
- where a rebuild's time goes: the mean seconds of each step of the fix's jobs, from the
  store's job-state events (build, push, stage: pull, tests and two scans, promote).

    python3 bench/rebuild.py [--images 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.aptrepo import SigningKey  # noqa: E402
from support.fleetkit import fleet_repo, osv_db, write_spec  # noqa: E402
from support.registry import start_registry  # noqa: E402

# Every image has the shell and coreutils; half add tzdata (the package that gets the fix),
# and each carries a few packages of the closure of its own, so the images differ.
COMMON = ["dash", "coreutils"]
EXTRAS = ["base-files", "netbase", "debianutils", "libacl1", "libattr1", "libselinux1"]


def zerocve(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zerocve", *args], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"zerocve {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def no_change_in_process(fleet: Path, env: dict[str, str]) -> float:
    """One cycle as the daemon runs it (modules loaded, store open), timed."""
    from zerocve.fleet.config import load_fleet
    from zerocve.fleet.cycle import Runner, run_cycle
    from zerocve.fleet.store import Store, store_url
    from zerocve.settings import Settings

    settings = Settings.from_env(env)
    with Store.open(store_url(None, settings.state_dir)) as store:
        runner = Runner(store, settings)
        start = time.perf_counter()
        report = run_cycle(runner, load_fleet(fleet))
        elapsed = time.perf_counter() - start
    if report.planned or report.outcomes or report.errors:
        sys.exit(f"the no-change cycle did something: {report}")
    return elapsed


STEPS = {"built": "build", "pushed-staging": "push", "staged": "stage", "promoted": "promote"}


def step_seconds(store: Path, after_job: int) -> dict[str, float]:
    """Mean seconds per step of the jobs after ``after_job``: from the event that moved a job
    into the step's start state to the one that moved it out of it."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT job_id, at, data FROM events WHERE kind = 'job-state' "
                          "AND job_id > ? ORDER BY id", (after_job,)).fetchall()
    last: dict[int, float] = {}
    spent: dict[str, list[float]] = {}
    for job, at, data in rows:
        when = datetime.fromisoformat(at).timestamp()  # naive UTC: differences are exact
        to = json.loads(data)["to"]
        if job in last and to in STEPS:
            spent.setdefault(STEPS[to], []).append(when - last[job])
        last[job] = when
    return {step: round(sum(v) / len(v), 2) for step, v in spent.items()}


def fleet_size(host: str, repositories: list[str]) -> int:
    """Bytes of every blob the fleet's promoted images reference (config and layers)."""
    accept = "application/vnd.oci.image.manifest.v1+json"
    total = 0
    with httpx.Client() as client:
        for repo in repositories:
            manifest = client.get(f"http://{host}/v2/{repo}/manifests/latest",
                                  headers={"Accept": accept}).json()
            total += manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="zerocve-bench-rebuild-") as scratch:
        work = Path(scratch)
        key = SigningKey.create(work / "gnupg")
        repo, fix = fleet_repo(work / "repo", key, [*COMMON, "tzdata", *EXTRAS],
                               held_back="tzdata")
        repo.serve()
        registry = start_registry(work / "registry")
        try:
            # podman settings these machines need (no systemd cgroups, no raised rlimits).
            os.environ["CONTAINERS_CONF"] = str(ROOT / "tests" / "support" / "containers.conf")
            env = osv_db(work / "user", "tzdata", fix[0].name.split("_")[1])
            specs = work / "images"
            specs.mkdir()
            holders = 0
            for i in range(args.images):
                packages = [*COMMON, EXTRAS[i % len(EXTRAS)]]
                if i % 2 == 0:
                    packages.append("tzdata")
                    holders += 1
                write_spec(specs, f"img{i:03d}", repo, packages,
                           annotations={"org.opencontainers.image.title": f"img{i:03d}"},
                           test=[["/bin/sh", "-c", "test -x /bin/sh"]])
            fleet = work / "fleet.yaml"
            fleet.write_text(yaml.safe_dump({
                "images": [{"spec": "images/*.yaml",
                            "repository": f"{registry.host}/bench/{{name}}"}],
            }))
            run = ["fleet", "run", str(fleet), "--once", "--workers", str(args.workers)]
            first = zerocve(run, env)
            print(f"fleet of {args.images} images built, staged and promoted in {first:.0f} s "
                  "(setup, not a goal)", flush=True)
            store = work / "user" / "state" / "fleet.sqlite"
            with sqlite3.connect(store) as db:
                promoted_before = db.execute(
                    "SELECT count(*) FROM events WHERE kind = 'promoted'").fetchone()[0]
                last_job = db.execute("SELECT max(id) FROM jobs").fetchone()[0]

            published = time.perf_counter()
            repo.publish(fix, "bookworm-security")
            zerocve(run, env)
            to_promotion = time.perf_counter() - published
            with sqlite3.connect(store) as db:
                promoted = db.execute(
                    "SELECT count(*) FROM events WHERE kind = 'promoted'").fetchone()[0]
                pushed = db.execute("SELECT coalesce(sum(bytes_pushed), 0) FROM jobs "
                                    "WHERE id > ?", (last_job,)).fetchone()[0]
            rebuilds = promoted - promoted_before
            total = fleet_size(registry.host, [f"bench/img{i:03d}" for i in range(args.images)])
            steps = step_seconds(store, last_job)
            no_change = min(zerocve(run, env) for _ in range(3))
            in_process = min(no_change_in_process(fleet, env) for _ in range(3))

            figures = {
                "images": args.images,
                "images_holding_the_package": holders,
                "rebuilds_promoted": rebuilds,
                "publication_to_last_promotion_s": round(to_promotion, 1),
                "bytes_pushed": pushed,
                "fleet_bytes": total,
                "bytes_pushed_ratio": round(pushed / total, 4),
                "no_change_cycle_s": round(no_change, 2),
                "no_change_cycle_in_process_s": round(in_process, 3),
                "mean_step_s": steps,
            }
            print(json.dumps(figures, indent=2))
            print(f"rebuilds: {rebuilds} of {holders} images holding tzdata "
                  f"({'exact' if rebuilds == holders else 'NOT exact'})")
            print(f"publication → last promotion: {to_promotion:.0f} s (goal < 180 s)")
            print(f"bytes pushed: {pushed / 1e6:.2f} MB of a {total / 1e6:.1f} MB fleet = "
                  f"{100 * pushed / total:.2f}% (goal < 5%)")
            print("mean seconds per rebuild step (2 workers): " +
                  ", ".join(f"{k} {v}" for k, v in steps.items()))
            print(f"no-change cycle: {no_change:.2f} s as a whole command (Python start-up and "
                  f"imports included), {in_process:.3f} s in the running daemon (goal < 2 s)")
        finally:
            registry.stop()
            repo.close()
            # podman keeps its overlay storage mounted: let the directory go.
            subprocess.run(["umount", str(work / "user" / "state" / "podman" / "storage" /
                                          "overlay")], capture_output=True)


if __name__ == "__main__":
    main()
