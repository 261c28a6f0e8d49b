#!/usr/bin/env python3
"""What the gzip level of layers costs: the layers of a built image, compressed again at
levels 1, 2, 4 (zerocve's), 6 (gzip's default) and 9 the way zerocve compresses them
(``oci.gzip_blocks``, one thread), with their total size and the CPU time it took, each
beside level 6. Steadier than a build's time on a shared machine: the CPU time of one thread.

python3 bench/gzip_levels.py out/python   # an OCI layout zerocve built
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

from zerocve.oci.gzip_blocks import gzip_blocks
from zerocve.oci.layer import GZIP_LEVEL
from zerocve.oci.reader import open_layout

LEVELS = (1, 2, 4, 6, 9)
RUNS = 3  # the least CPU time of these, for each level


def layer_tars(layout: Path) -> list[bytes]:
    reader = open_layout(layout)
    tars = []
    for layer in reader.manifest(reader.top().digest)["layers"]:
        with reader.layer(layer["digest"], layer["size"]).open() as f:
            tars.append(gzip.decompress(f.read()))
    return tars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layout", type=Path)
    args = parser.parse_args()
    if not (args.layout / "index.json").is_file():
        sys.exit(f"{args.layout}: not an OCI layout (no index.json); build one with zerocve")
    tars = layer_tars(args.layout)
    raw = sum(map(len, tars))
    results = {}
    for level in LEVELS:
        best = float("inf")
        for _ in range(RUNS):
            start = time.thread_time()
            size = sum(len(gzip_blocks(tar, level)) for tar in tars)
            best = min(best, time.thread_time() - start)
        results[level] = (size, best)
    size6, cpu6 = results[6]
    print(f"{args.layout}: {len(tars)} layers, {raw / 1e6:.1f} MB of tar; "
          f"least CPU time of {RUNS} runs, one thread")
    for level, (size, cpu) in results.items():
        mark = "  (zerocve)" if level == GZIP_LEVEL else ""
        print(f"  level {level}  {size / 1e6:7.2f} MB  {size / size6:5.3f} of level 6 size"
              f"   CPU {cpu:6.2f} s  {cpu / cpu6:5.2f} of level 6   "
              f"{raw / cpu / 1e6:5.0f} MB/s{mark}")


if __name__ == "__main__":
    main()
