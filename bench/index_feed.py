#!/usr/bin/env python3
"""The Packages index scanned while it inflates (issue 10.1): the work a lock has left once
the last byte of a full Debian index has arrived, beside the scan of the whole text that used
to follow the download; and the time and CPU of inflating and scanning it in all.

The index is the host's largest Packages list (bookworm main for amd64: 63,000 stanzas, read
from ``/var/lib/apt/lists`` with apt-helper) packed as a mirror packs it (gzip -9), or the
``Packages.gz`` given with ``--index``. Both ways are fed the same 64 KB pieces of compressed
bytes (what zerocve reads from a mirror at a time), from memory, as fast as they go:

- before: each piece inflated, and once the last has come the whole text scanned
  (``index_scan.scan``, the one pass the catalog made after the download);
- now: each piece inflated on a worker thread (as a download is) while the main thread
  scans the stanzas complete so far (``repo._Inflater`` handing its steps to
  ``repo._MainThreadScans``), and once the last has come the rest of the scan finished
  (``_Inflater.text``).

Wall clock and CPU time (user + system, every thread), medians of ``--runs`` runs, alternating.

    python3 bench/index_feed.py [--runs 5] [--index Packages.gz]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "debian"))
sys.path.insert(0, str(ROOT / "src"))

from _host_indices import list_files, native_arch, read_list  # noqa: E402

from zerocve.debian.index_scan import scan  # noqa: E402
from zerocve.debian.repo import _IndexText, _Inflater, _MainThreadScans  # noqa: E402

PIECE = 1 << 16  # compressed bytes at a time, as zerocve's HTTP reads (debian/http.py)


def packed_index(given: Path | None) -> tuple[bytes, str]:
    """A full Packages.gz and what it is."""
    if given is not None:
        return given.read_bytes(), str(given)
    arch = native_arch()
    lists = [path for path, _ in list_files(arch) if f"_binary-{arch}_" in path.name]
    if not lists:
        sys.exit("index_feed: the host has no apt lists; run apt-get update or give --index")
    path = max(lists, key=lambda each: each.stat().st_size)
    return gzip.compress(read_list(path).encode(), compresslevel=9, mtime=0), path.name


def before(pieces: list[bytes]) -> tuple[float, ...]:
    """Inflate every piece, then scan the whole text: (wall in all, wall after the last piece,
    CPU in all, CPU of this thread)."""
    start, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    stream, text = zlib.decompressobj(wbits=31), bytearray()
    for piece in pieces:
        text += stream.decompress(piece)
    last = time.perf_counter()
    scanned = scan(text)
    end = time.perf_counter()
    assert scanned.canonical
    return end - start, end - last, time.process_time() - cpu, time.thread_time() - own


def now(pieces: list[bytes]) -> tuple[float, ...]:
    """Inflate each piece on a worker as this thread scans the pieces before, then finish:
    (wall in all, wall after the last piece, CPU in all, CPU of the inflating thread)."""

    def inflated() -> tuple[float, float, _IndexText]:
        own = time.thread_time()
        inflater = _Inflater(".gz", scans.hand_over)
        for piece in pieces:
            inflater.feed(piece)
        last = time.perf_counter()
        whole = inflater.text()
        return last, time.thread_time() - own, whole

    start, cpu = time.perf_counter(), time.process_time()
    scans = _MainThreadScans()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ((last, own, whole),) = scans.take_until_done([pool.submit(inflated)])
    end = time.perf_counter()
    assert whole.scan.canonical
    return end - start, end - last, time.process_time() - cpu, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--index", type=Path, help="a Packages.gz to read instead")
    args = parser.parse_args()
    packed, what = packed_index(args.index)
    pieces = [packed[i:i + PIECE] for i in range(0, len(packed), PIECE)]
    text = gzip.decompress(packed)
    stanzas = len(scan(text).starts)
    print(f"{what}: {len(packed) / 1e6:.1f} MB packed, {len(text) / 1e6:.1f} MB of text, "
          f"{stanzas} stanzas, {len(pieces)} pieces of {PIECE // 1024} KB")
    del text
    results: dict[str, list[tuple[float, ...]]] = {"before": [], "now": []}
    for _ in range(args.runs):
        results["before"].append(before(pieces))
        results["now"].append(now(pieces))
    (all_before, tail_before, cpu_before, own_before), (all_now, tail_now, cpu_now, own_now) = (
        tuple(statistics.median(run[i] for run in results[way]) for i in range(4))
        for way in ("before", "now"))
    print(f"medians of {args.runs} runs; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  after the last piece: before {tail_before:.3f} s (the whole scan), "
          f"now {tail_now:.3f} s (the rest of the scan)")
    print(f"  inflate and scan in all: before {all_before:.3f} s, now {all_now:.3f} s "
          f"({all_now / all_before:.2f} of before); CPU before {cpu_before:.3f} s, "
          f"now {cpu_now:.3f} s ({cpu_now / cpu_before:.2f})")
    print(f"  CPU of the inflating thread (the download's, which the lock waits for): before "
          f"{own_before:.3f} s (inflate, then the scan), now {own_now:.3f} s "
          f"({own_now / own_before:.2f}); the scanning (main) thread {cpu_now - own_now:.3f} s "
          "beside it")


if __name__ == "__main__":
    main()
