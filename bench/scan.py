#!/usr/bin/env python3
"""Advisory DB build and warm scans, measured in one run.

Prints: the DB build time, size and peak memory from the shared OSV zip; the scan time (warm
DB, whole `zerocve scan` process and the in-process match) of the python example image and of a
root filesystem of 300 real bookworm packages; each scan's peak memory. Goals: DB build < 60 s
and < 100 MB, a scan < 0.3 s, memory < 300 MB. Published peer figures are printed beside ours
(grype and trivy cannot be installed here, so they are quoted, not re-measured).

    python3 bench/scan.py [--osv ../shared/data/debian-osv-2025-02-12.zip] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.aptrepo import IMAGE_PACKAGES, SigningKey, build_repo  # noqa: E402

DEFAULT_OSV = ROOT.parent / "shared" / "data" / "debian-osv-2025-02-12.zip"
PUBLISHED = [
    "grype: a 65 MB compressed DB that took 19.4 s to load (one public report)",
    "trivy: a 51 MB compressed DB",
]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one command. GNU time measures the memory: a child
    forked from this (large) process would report our RSS as its own peak."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: findings over a gate, still a full scan
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, int(done.stderr.strip().splitlines()[-1]) * 1024


def rootfs_of_300_packages(target: Path) -> None:
    """A root filesystem whose dpkg database lists 300 real bookworm packages, every 50th of
    the host's apt index (names, versions and sources exactly as Debian ships them)."""
    dump = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
    ).stdout
    stanzas = [s for s in dump.split("\n\n") if s.startswith("Package: ")]
    chosen = sorted(stanzas, key=lambda s: s.split("\n", 1)[0])[::50][:300]
    if len(chosen) < 300:
        sys.exit("the host's apt index has too few packages: run apt-get update")
    status = ""
    for stanza in chosen:
        fields = [
            line for line in stanza.splitlines()
            if line.split(":", 1)[0] in ("Package", "Version", "Architecture", "Source",
                                         "Maintainer", "Installed-Size")
        ]
        status += "\n".join([fields[0], "Status: install ok installed", *fields[1:]]) + "\n\n"
    (target / "var/lib/dpkg").mkdir(parents=True)
    (target / "var/lib/dpkg/status").write_text(status)
    (target / "etc").mkdir()
    (target / "etc/os-release").write_text(
        'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osv", type=Path, default=DEFAULT_OSV)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="zerocve-bench-scan-"))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(work / "cache")}
    zerocve = [sys.executable, "-m", "zerocve", "-q"]
    try:
        db = work / "advisories.sqlite"
        db_time, db_rss = run([*zerocve, "db", "update", "--osv", str(args.osv), "--db", str(db)],
                              env)
        db_size = db.stat().st_size

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

        rootfs = work / "rootfs-300"
        rootfs_of_300_packages(rootfs)

        print(f"advisory DB from {args.osv.name}")
        print(f"  build {db_time:5.1f} s (goal < 60 s)   size {db_size / 1e6:5.1f} MB "
              f"(goal < 100 MB)   peak memory {db_rss / 1e6:5.0f} MB")
        for line in PUBLISHED:
            print(f"  published peer figure: {line}")
        print(f"warm scans, median of {args.runs} (goal < 0.3 s, memory < 300 MB)")
        for name, target in (("python example image", image), ("rootfs, 300 packages", rootfs)):
            runs = [
                run([*zerocve, "scan", str(target), "-o", "json", "--db", str(db)], env)
                for _ in range(args.runs)
            ]
            process_time = statistics.median(t for t, _ in runs)
            peak = max(rss for _, rss in runs)
            inner = in_process_scan(str(target), db, Path(env["ZEROCVE_CACHE_DIR"]), args.runs)
            print(f"  {name:22s} scan {inner:5.3f} s in process, {process_time:5.2f} s as a "
                  f"whole command   peak memory {peak / 1e6:4.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
