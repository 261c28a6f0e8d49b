#!/usr/bin/env python3
"""What a build spends on control files: each ``.deb``'s control file read into fields and
written back as a dpkg status stanza, the way a build does it (``debian.control``), beside
python-debian's ``Deb822`` (what zerocve used before), each in a fresh interpreter so that the
import is counted: a cold build pays it once, on the way to its first unpack. Prints the CPU
time of each (least of several runs; one thread), and the ratio.

python3 bench/control_parse.py [DEB ...]   # default: the .debs the bench repositories use
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.aptrepo import deb_cache_dir  # noqa: E402
from zerocve.debian.deb import read_control  # noqa: E402

RUNS = 7  # the least CPU time of these, for each reader

# Each child reads the control texts from a file, then (timed from its own start, imports
# included) reads each one and writes its stanza, and prints its CPU time.
_CHILD = {
    "zerocve": (
        "from zerocve.debian.control import format_stanza, parse_control\n"
        "def stanza(text):\n"
        "    return format_stanza(parse_control(text).items())\n"
    ),
    "python-debian": (
        "from debian.deb822 import Deb822\n"
        "def stanza(text):\n"
        "    out = Deb822()\n"
        "    for name, value in dict(Deb822(text)).items():\n"
        "        out[name] = value\n"
        "    return out.dump()\n"
    ),
}
_RUN = (
    "import json, sys, time\n"
    "texts = json.load(open(sys.argv[1]))\n"
    "start = time.process_time()\n"
    "{define}"
    "written = [stanza(text) for text in texts]\n"
    "print(time.process_time() - start, sum(map(len, written)))\n"
)


def cpu_of(reader: str, texts: Path) -> tuple[float, int]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN.format(define=_CHILD[reader]), str(texts)],
        capture_output=True, text=True, check=True,
    )
    seconds, size = done.stdout.split()
    return float(seconds), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("debs", type=Path, nargs="*")
    args = parser.parse_args()
    debs = args.debs or sorted(deb_cache_dir().rglob("*.deb"))
    if not debs:
        sys.exit(f"no .deb given and none in {deb_cache_dir()}: run the tests once to fill it")
    texts = [read_control(deb).stanza for deb in debs]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(texts, file)
        file.flush()
        best: dict[str, float] = {}
        sizes: dict[str, int] = {}
        for _ in range(RUNS):
            for reader in _CHILD:  # interleaved, so that both see the same load
                seconds, sizes[reader] = cpu_of(reader, Path(file.name))
                best[reader] = min(best.get(reader, seconds), seconds)
    if len(set(sizes.values())) != 1:
        sys.exit(f"the two readers wrote stanzas of different sizes: {sizes}")
    with open("/proc/loadavg") as load:
        print(f"{len(debs)} control files read and written as status stanzas, imports "
              f"included; least CPU time of {RUNS} runs; load average {load.read().split()[0]}")
    for reader, seconds in best.items():
        print(f"  {reader:14} {seconds * 1000:7.1f} ms")
    print(f"  python-debian / zerocve: {best['python-debian'] / best['zerocve']:.1f}x")


if __name__ == "__main__":
    main()
