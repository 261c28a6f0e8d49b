#!/usr/bin/env python3
"""Advisory DB build and warm scans, measured in one run, beside debsecan.

Prints: the DB build time, size and peak memory from the shared OSV zip; the scan time (warm
DB, whole `zerocve scan` process and the in-process match) of the python example image; and,
for root filesystems of 40, 300 and 1,500 real bookworm packages, the whole `zerocve scan
ROOTFS -o json` command beside debsecan (Debian's own scanner) reading the same OSV records
converted to its format (``bench/debsecan_feed.py``), their ratio and each one's peak memory
(ru_maxrss of the child). Goals: DB build < 60 s and < 100 MB; a scan no slower than debsecan
and under 60 MB. Published grype and trivy figures are quoted beside ours (neither can be
installed here).

    python3 bench/scan.py [--osv ../shared/data/debian-osv-2025-02-12.zip] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _bytecode import compile_zerocve  # noqa: E402
from debsecan_feed import write_debsecan_source  # noqa: E402

from support.aptrepo import IMAGE_PACKAGES, SigningKey, build_repo  # noqa: E402
from support.rootfs import apt_stanzas, write_rootfs  # noqa: E402

DEFAULT_OSV = ROOT.parent / "shared" / "data" / "debian-osv-2025-02-12.zip"
SIZES = (40, 300, 1500)  # installed packages: how the cost of a scan grows
RELEASE = "bookworm"
PUBLISHED = [
    "grype: a 65 MB compressed DB that took 19.4 s to load (one public report)",
    "trivy: a 51 MB compressed DB",
]


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock
    cpu: float  # user + system seconds: steadier than the wall clock on a shared machine
    peak: int  # peak RSS in bytes (ru_maxrss of the child)


def run(cmd: list[str], env: dict[str, str]) -> Measured:
    """One run of ``cmd``. GNU time measures CPU and memory: a child forked from this (large)
    process would report our RSS as its own peak."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", *cmd], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: findings over a gate, still a full scan
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    user, system, peak = done.stderr.strip().splitlines()[-1].split()
    return Measured(elapsed, float(user) + float(system), int(peak) * 1024)


def summary(runs: list[Measured]) -> Measured:
    """Median times and the highest peak of several runs."""
    return Measured(statistics.median(r.seconds for r in runs),
                    statistics.median(r.cpu for r in runs), max(r.peak for r in runs))


def in_process_scan(target: str, db: Path, cache: Path, runs: int) -> float:
    """A warm scan through the library API, as the rebuild loop runs it."""
    from zerocve import api
    from zerocve.settings import Settings

    settings = Settings.from_env(db_path=db, cache_dir=cache)
    api.scan(target, settings, platforms=[None])  # warm: page cache, imports
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        api.scan(target, settings, platforms=[None])
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def findings(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(cmd, env=env, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osv", type=Path, default=DEFAULT_OSV)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("debsecan") is None:
        sys.exit("debsecan is not installed: run scripts/install-deps")

    compile_zerocve()
    work = Path(tempfile.mkdtemp(prefix="zerocve-bench-scan-"))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(work / "cache")}
    zerocve = [sys.executable, "-m", "zerocve", "-q"]
    try:
        db = work / "advisories.sqlite"
        built = run([*zerocve, "db", "update", "--osv", str(args.osv), "--db", str(db)], env)
        db_size = db.stat().st_size
        source = write_debsecan_source(args.osv, RELEASE, work / "debsecan")

        key = SigningKey.create(work / "gnupg")
        repo = build_repo(work / "repo", IMAGE_PACKAGES, key)
        example = yaml.safe_load((ROOT / "examples" / "python.yaml").read_text())
        example["contents"]["repositories"] = [
            {"uri": repo.uri, "suites": repo.suites, "keyring": str(key.keyring)}
        ]
        spec = work / "python.yaml"
        spec.write_text(yaml.safe_dump(example))
        image = work / "python-image"
        run([*zerocve, "build", str(spec), "-o", str(image)], env)

        print(f"advisory DB from {args.osv.name}")
        print(f"  build {built.seconds:5.1f} s ({built.cpu:4.1f} s CPU; goal < 60 s)   size "
              f"{db_size / 1e6:5.1f} MB "
              f"(goal < 100 MB)   peak memory {built.peak / 1e6:5.0f} MB")
        for line in PUBLISHED:
            print(f"  published peer figure: {line}")
        print(f"warm scans, median of {args.runs}, whole commands: wall clock (CPU); goals: no "
              "slower than debsecan, peak memory < 60 MB")
        scan_image = [*zerocve, "scan", str(image), "-o", "json", "--db", str(db)]
        run(scan_image, env)  # warm: page cache
        ours = summary([run(scan_image, env) for _ in range(args.runs)])
        inner = in_process_scan(str(image), db, Path(env["ZEROCVE_CACHE_DIR"]), args.runs)
        print(f"  python example image     zerocve  {ours.seconds:5.3f} s ({ours.cpu:5.3f} s)   "
              f"peak {ours.peak / 1e6:3.0f} MB   in process {inner:5.3f} s")
        stanzas = apt_stanzas()
        for count in SIZES:
            rootfs = work / f"rootfs-{count}"
            try:
                write_rootfs(rootfs, count, stanzas)
            except ValueError as e:
                sys.exit(str(e))
            our_scan = [*zerocve, "scan", f"dir:{rootfs}", "-o", "json", "--db", str(db)]
            their_scan = ["debsecan", "--suite", RELEASE, "--source", source,
                          "--status", str(rootfs / "var/lib/dpkg/status")]
            run(our_scan, env)  # warm both: page cache
            run(their_scan, env)
            # Interleaved, so that a change of load on the machine hits both alike.
            pairs = [(run(our_scan, env), run(their_scan, env)) for _ in range(args.runs)]
            ours, theirs = summary([o for o, _ in pairs]), summary([t for _, t in pairs])
            inner = in_process_scan(f"dir:{rootfs}", db, Path(env["ZEROCVE_CACHE_DIR"]),
                                    args.runs)
            our_count = len(json.loads(findings(our_scan, env))["findings"])
            their_count = len(findings(their_scan, env).splitlines())
            print(f"  rootfs, {count:4d} packages    zerocve  {ours.seconds:5.3f} s "
                  f"({ours.cpu:5.3f} s)   peak {ours.peak / 1e6:3.0f} MB   in process "
                  f"{inner:5.3f} s   {our_count} findings")
            print(f"  {'':24s} debsecan {theirs.seconds:5.3f} s ({theirs.cpu:5.3f} s)   peak "
                  f"{theirs.peak / 1e6:3.0f} MB   {'':20s}{their_count} findings")
            print(f"  {'':24s} zerocve/debsecan: {ours.seconds / theirs.seconds:4.2f} wall "
                  f"clock, {ours.cpu / theirs.cpu:4.2f} CPU (goal <= 1)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
