#!/usr/bin/env python3
"""The repository fetcher on the standard library against the httpx fetcher it replaced, in
one run: a cold ``zerocve lock`` and a cold ``zerocve build`` (no lock: it resolves, fetches
and builds) of examples/python.yaml from the host's own apt sources (its mirror), empty cache.

The peer is zerocve as of ``--before``, the change ``--after``; both default to the commit that
put the fetcher on http.client and its parent, so that nothing else differs. Each is exported
from git into a temporary directory and run by the same interpreter, and their runs
alternate, so both see the same network and load. Prints each command's median wall
clock and CPU seconds (user + system: steadier than the wall clock on a shared machine) for
both, and their ratios (before / after), with the load average at the start and the end.

python3 bench/fetch.py [--runs 3] [--before REV] [--after REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build import ROOT, Child, run_child  # noqa: E402


def the_change() -> str:
    """The commit that added the standard-library fetcher (zerocve/debian/http_get.py)."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%h", "--",
         "src/zerocve/debian/http_get.py"], check=True, capture_output=True, text=True)
    return found.stdout.split()[-1]


def export(rev: str, into: Path) -> Path:
    """``rev``'s src/ tree in ``into``, compiled to bytecode as an installation has it."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             check=True, capture_output=True).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    src = into / "src"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True,
                   stdout=subprocess.DEVNULL)
    return src


def cold(src: Path, command: str, spec: Path, work: Path) -> Child:
    """One cold ``zerocve lock`` or ``zerocve build`` of ``spec`` with ``src`` on the path."""
    cache, out = work / "cache", work / "out"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    spec.with_name(spec.stem + ".lock.json").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(src), ZEROCVE_CACHE_DIR=str(cache))
    args = ["lock", str(spec)] if command == "lock" else ["build", str(spec), "-o", str(out)]
    return run_child([sys.executable, "-m", "zerocve", "-q", *args], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before")
    parser.add_argument("--after")
    args = parser.parse_args()
    after = args.after or the_change()
    before = args.before or f"{after}^"
    print(f"httpx: zerocve at {before}; http.client: at {after}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="zerocve-fetch-") as tmp:
        work = Path(tmp)
        trees = {"httpx": export(before, work / "before"),
                 "http.client": export(after, work / "after")}
        spec = work / "python.yaml"
        shutil.copyfile(ROOT / "examples" / "python.yaml", spec)
        for command in ("lock", "build"):
            runs: dict[str, list[Child]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, src in trees.items():
                    runs[name].append(cold(src, command, spec, work))
            wall = {n: statistics.median(c.seconds for c in r) for n, r in runs.items()}
            cpu = {n: statistics.median(c.cpu for c in r) for n, r in runs.items()}
            for name in trees:
                each = ", ".join(f"{c.seconds:.2f}/{c.cpu:.2f}" for c in runs[name])
                print(f"cold {command:5} {name:11}: median {wall[name]:.2f} s wall, "
                      f"{cpu[name]:.2f} s CPU (runs, wall/CPU: {each})")
            print(f"cold {command:5} httpx / http.client: wall "
                  f"{wall['httpx'] / wall['http.client']:.2f}x, "
                  f"CPU {cpu['httpx'] / cpu['http.client']:.2f}x; saved "
                  f"{wall['httpx'] - wall['http.client']:.2f} s wall, "
                  f"{cpu['httpx'] - cpu['http.client']:.2f} s CPU")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
