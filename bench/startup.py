#!/usr/bin/env python3
"""A cold ``zerocve build`` whose index downloads overlap its start-up, against zerocve just
before that change, in one run: one command with an empty cache and no lock (it resolves,
fetches and builds) of examples/python.yaml from the host's own apt sources (its mirror).

The peer is zerocve as of ``--before``, the change ``--after``; both default to the commit
that made ``api.lock_for_build`` download the indices while the image builder imports
(reverted since: no run under load showed a gain), and its parent, so that nothing else
differs. Each is exported from git and compiled, run by the
same interpreter, and their runs alternate, so both see the same network and load (as in
bench/fetch.py). Prints each one's median wall clock, CPU seconds (user + system) and peak
memory, and the ratios (before / after), with the load average at the start and the end: the
overlap only pays while a core is idle, so read the wall clock beside the load.

python3 bench/startup.py [--runs 5] [--before REV] [--after REV]
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

from build import ROOT, Child  # noqa: E402
from fetch import cold, export  # noqa: E402


def the_change() -> str:
    """The commit that added ``Indices.downloading`` (the oldest: a revert touches it too)."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-S", "def downloading(", "--format=%h", "--",
         "src/zerocve/api.py"], check=True, capture_output=True, text=True)
    return found.stdout.split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before")
    parser.add_argument("--after")
    args = parser.parse_args()
    after = args.after or the_change()
    before = args.before or f"{after}^"
    print(f"before: zerocve at {before}; after: at {after}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="zerocve-startup-") as tmp:
        work = Path(tmp)
        trees = {"before": export(before, work / "before"), "after": export(after, work / "after")}
        spec = work / "python.yaml"
        shutil.copyfile(ROOT / "examples" / "python.yaml", spec)
        runs: dict[str, list[Child]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, src in trees.items():
                runs[name].append(cold(src, "build", spec, work))
    wall = {n: statistics.median(c.seconds for c in r) for n, r in runs.items()}
    cpu = {n: statistics.median(c.cpu for c in r) for n, r in runs.items()}
    for name, each in runs.items():
        listed = ", ".join(f"{c.seconds:.2f}/{c.cpu:.2f}" for c in each)
        print(f"cold build {name:6}: median {wall[name]:.2f} s wall, {cpu[name]:.2f} s CPU, "
              f"peak {max(c.peak for c in each) / 1e6:.0f} MB (runs, wall/CPU: {listed})")
    print(f"cold build before / after: wall {wall['before'] / wall['after']:.2f}x, "
          f"CPU {cpu['before'] / cpu['after']:.2f}x; saved "
          f"{wall['before'] - wall['after']:.2f} s wall, {cpu['before'] - cpu['after']:.2f} s CPU")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
