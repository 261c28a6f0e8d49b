#!/usr/bin/env python3
"""Build the python example with zerocve and the same package list with mmdebstrap
(variant essential, packed as a tar) from the same warm local repository, in one run.

Prints ratios (mmdebstrap / zerocve): cold build time (zerocve: `zerocve build` with an empty
cache and no lock, which resolves, fetches and builds in one process, as a new user's first
build, and as issue 10 measures it; beside it the same work as two commands, `zerocve lock`
then `zerocve build`, each paying start-up), uncompressed size, gzip-compressed size, and
zerocve's no-change rebuild time (the whole `zerocve build` command with its lock, a warm cache
and the output already there, Python start-up included: wall clock and CPU time, beside
``python -c pass`` run just before each under the same load; and the same rebuild through the
library API in one process, as the rebuild loop runs it, which must give the command's
digest). zerocve's bytecode is compiled first, as an installation has it.
Goals: >= 10x faster (issue 10.1), <= a quarter of the size (issue 10.6), no-change rebuild
< 0.5 s (issue 10.5).

Also printed: the peak resident memory of the cold build (its ru_maxrss; goal < 150 MB), and
of each of the two commands.

``--mirror``: the same cold build from the host's own Debian mirror instead (its apt sources,
which zerocve reads when a spec names no repository, and which mmdebstrap is given as they
are), empty cache and no lock, side by side with mmdebstrap; goal >= 10x (issue 10.1). It also
prints the two commands' times (the lock's share among them), the bytes and seconds of
fetching the very files zerocve fetched with nothing else done (the part of its time that is
network), and the no-change rebuild from the host's mirror.

Then, so that the README shows how cost grows rather than one point (issue 10.7), the same
cold build, zerocve beside mmdebstrap, for three specs of about 36, 140 and 180 packages
(``GROWTH_SPECS``) from a second local repository holding exactly what apt would install for
them (``--growth-runs 0`` skips it).

Run as root (mmdebstrap --mode=root):
python3 bench/build.py [--runs 3] [--mirror] [--growth-runs 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _bytecode import compile_zerocve  # noqa: E402

from support.aptrepo import (  # noqa: E402
    ESSENTIAL_PACKAGES,
    IMAGE_PACKAGES,
    AptRepo,
    SigningKey,
    build_repo,
)

# Specs of about 36, 140 and 180 packages (zerocve's count; apt's is larger, mmdebstrap's
# larger still with the Essential set): the python example, a toolchain, a toolchain with a
# web server, ssh and gnupg.
TOOLCHAIN = ["gcc", "g++", "git", "curl", "perl", "python3-scipy"]
GROWTH_SPECS = {
    "python": ["python3", "ca-certificates"],
    "toolchain": TOOLCHAIN,
    "toolchain+nginx": [*TOOLCHAIN, "nginx", "openssh-client", "gnupg"],
}


@dataclass(frozen=True)
class Child:
    """One command: its wall-clock seconds, CPU seconds (user + system: steadier than the
    wall clock on a shared machine) and peak resident memory in bytes (its own ru_maxrss)."""

    seconds: float
    cpu: float
    peak: int


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> Child:
    """Run ``cmd`` and measure it (``Child``); exits when it fails."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # this child's usage, not all children's
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{errors.read().decode(errors='replace')}")
    return Child(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def cold_build(spec: Path, cache: Path, out: Path) -> Child:
    """``zerocve build`` with an empty ``cache`` and no lock, as a new user's first build: it
    resolves, fetches and builds in one process (mmdebstrap resolves too). The lock is written
    afterwards, untimed, for what follows (rebuilds, package counts, the download alone)."""
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
    zerocve = [sys.executable, "-m", "zerocve", "-q"]
    spec.with_name(spec.stem + ".lock.json").unlink(missing_ok=True)
    build = run_child([*zerocve, "build", str(spec), "-o", str(out)], env)
    run_child([*zerocve, "lock", str(spec)], env)
    return build


@dataclass(frozen=True)
class LockThenBuild:
    """``zerocve lock`` then ``zerocve build``, cold: each command's seconds and peak memory."""

    lock_seconds: float
    build_seconds: float
    lock_peak: int  # bytes of resident memory
    build_peak: int
    cpu: float  # user + system seconds of both commands

    @property
    def seconds(self) -> float:
        return self.lock_seconds + self.build_seconds


def lock_then_build(spec: Path, cache: Path, out: Path) -> LockThenBuild:
    """The same cold build as two commands, each paying Python's and zerocve's start-up."""
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
    zerocve = [sys.executable, "-m", "zerocve", "-q"]
    spec.with_name(spec.stem + ".lock.json").unlink(missing_ok=True)
    lock = run_child([*zerocve, "lock", str(spec)], env)
    build = run_child([*zerocve, "build", str(spec), "-o", str(out)], env)
    return LockThenBuild(lock.seconds, build.seconds, lock.peak, build.peak,
                         lock.cpu + build.cpu)


def print_two_commands(runs: list[LockThenBuild], mm_time: float) -> None:
    both = statistics.median(r.seconds for r in runs)
    lock = statistics.median(r.lock_seconds for r in runs)
    print(f"  lock, then build   zerocve {both:6.2f} s   (two commands: lock {lock:.2f} s, build "
          f"{statistics.median(r.build_seconds for r in runs):.2f} s; CPU "
          f"{statistics.median(r.cpu for r in runs):.2f} s; peak lock "
          f"{max(r.lock_peak for r in runs) / 1e6:.0f} MB, build "
          f"{max(r.build_peak for r in runs) / 1e6:.0f} MB)   ratio {mm_time / both:5.1f}x")


def download_alone(lock: Path) -> tuple[int, float]:
    """Bytes and seconds of fetching, 4 at a time as zerocve does and with nothing else done,
    every file a cold lock + build from ``lock``'s repositories downloads: each suite's
    InRelease and Packages index, and each .deb. The network's share of a cold build."""
    import httpx

    archs = json.loads(lock.read_text())["archs"].values()
    urls = sorted(
        {f"{i['uri']}/dists/{i['suite']}/{name}" for arch in archs for i in arch["indices"]
         for name in ("InRelease", i["path"])}
        | {f"{p['uri']}/{quote(p['filename'], safe='/+~:')}" for arch in archs
           for p in arch["packages"]})

    def fetch(client: httpx.Client, url: str) -> int:
        size = 0
        with client.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
        return size

    start = time.perf_counter()
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(max_workers=4) as pool:
        sizes = list(pool.map(lambda url: fetch(client, url), urls))
    return sum(sizes), time.perf_counter() - start


def host_sources() -> list[Path]:
    """The host's apt source files that name a repository (one-line or deb822 style)."""
    apt = Path("/etc/apt")
    candidates = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list")),
                  *sorted((apt / "sources.list.d").glob("*.sources"))]
    return [path for path in candidates if path.is_file() and any(
        line.strip() and not line.lstrip().startswith("#")
        for line in path.read_text().splitlines())]


def host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.partition("=")[2].strip().strip('"')
    sys.exit("/etc/os-release names no VERSION_CODENAME for mmdebstrap's suite")


def compare_with_mirror(runs: int) -> None:
    """The python example's cold build from the host's mirror, zerocve beside mmdebstrap."""
    sources = host_sources()
    if not sources:
        sys.exit("the host has no apt sources to build from")
    work = Path(tempfile.mkdtemp(prefix="zerocve-bench-mirror-"))
    work.chmod(0o755)  # apt inside mmdebstrap drops to the _apt user
    try:
        spec = work / "python.yaml"  # names no repository: the host's apt sources
        shutil.copyfile(ROOT / "examples" / "python.yaml", spec)
        packages = ",".join(yaml.safe_load(spec.read_text())["contents"]["packages"])
        zerocve_runs, two_runs, mm_runs = [], [], []
        for run in range(runs):
            two_runs.append(lock_then_build(spec, work / f"cache-two-{run}",
                                            work / f"zerocve-two-{run}"))
            zerocve_runs.append(cold_build(spec, work / f"cache-{run}", work / f"zerocve-{run}"))
            tar = work / f"mmdebstrap-{run}.tar"
            mm_runs.append(run_child(
                ["mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
                 f"--include={packages}", host_codename(), str(tar), *map(str, sources)]))
        z_time = statistics.median(r.seconds for r in zerocve_runs)
        z_cpu = statistics.median(r.cpu for r in zerocve_runs)
        mm_time = statistics.median(r.seconds for r in mm_runs)
        mm_cpu = statistics.median(r.cpu for r in mm_runs)
        peak = max(r.peak for r in zerocve_runs)
        fetched, fetch_time = download_alone(spec.with_name(spec.stem + ".lock.json"))
        last = runs - 1  # the lock beside the spec is the last run's
        rebuilds = no_change_rebuilds(spec, work / f"cache-{last}", work / f"zerocve-{last}")
        z_raw, z_gz = layout_sizes(work / "zerocve-0")
        mm_raw = (work / "mmdebstrap-0.tar").stat().st_size
        print(f"python example, {runs} runs each, medians (the host's mirror: "
              f"{', '.join(map(str, sources))}; empty cache, no lock)")
        print(f"  cold build time    zerocve {z_time:6.2f} s   mmdebstrap {mm_time:6.2f} s"
              f"   ratio {mm_time / z_time:5.1f}x faster (goal >= 10x; `zerocve build` with no "
              "lock: resolve, fetch and build in one process)")
        print(f"  cold build CPU     zerocve {z_cpu:6.2f} s   mmdebstrap {mm_cpu:6.2f} s"
              f"   ratio {mm_cpu / z_cpu:5.1f}x less (user + system, with children)")
        print_two_commands(two_runs, mm_time)
        print(f"  download alone     {fetched / 1e6:6.1f} MB in {fetch_time:5.2f} s "
              f"({fetch_time / z_time:.0%} of zerocve's cold build): its InRelease, Packages "
              "and .deb files, 4 at a time, nothing else done")
        print(f"  peak memory        zerocve {peak / 1e6:6.0f} MB  (the cold build; goal < 150 MB)")
        print(f"  size uncompressed  zerocve {z_raw / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_raw / 1e6:6.1f} MB  ratio {z_raw / mm_raw:5.2f} of mmdebstrap")
        print(f"  size gzip          zerocve {z_gz / 1e6:6.1f} MB")
        rebuilds.print(mm_time)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def layout_sizes(layout: Path) -> tuple[int, int]:
    """(uncompressed, compressed) bytes of the image's layers, the way a registry stores them."""
    from zerocve.oci.reader import open_layout

    reader = open_layout(layout)
    compressed = uncompressed = 0
    for layer in reader.manifest(reader.top().digest)["layers"]:
        with reader.layer(layer["digest"], layer["size"]).open() as f:
            data = f.read()
        compressed += len(data)
        uncompressed += len(gzip.decompress(data))
    return uncompressed, compressed


def gzip_size(path: Path) -> int:
    """Bytes of ``path`` gzip-compressed at level 6, streamed (an mmdebstrap tar of the larger
    specs is most of a gigabyte)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            size += len(packer.compress(chunk))
    return size + len(packer.flush())


def mmdebstrap_cmd(repo: AptRepo, keyring: Path, packages: list[str], tar: Path) -> list[str]:
    sources = [f"deb [signed-by={keyring}] copy://{repo.root} {suite} main"
               for suite in repo.suites]
    return ["mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
            f"--include={','.join(packages)}", "bookworm", str(tar), *sources]


def api_rebuild(spec: Path, cache: Path, written: Path) -> float:
    """Seconds of a warm, no-change lock + build through ``zerocve.api`` (the lock is read, the
    image comes from the build cache); exits when its digest is not the written image's."""
    from zerocve import api
    from zerocve.settings import Settings

    settings = Settings.from_env(cache_dir=cache)
    start = time.perf_counter()
    loaded = api.load_spec(spec)
    built = api.build(loaded, api.lock_for_build(loaded, api.default_lock_path(spec), settings),
                      settings)
    elapsed = time.perf_counter() - start
    from zerocve.oci.reader import open_layout

    if open_layout(written).top().digest != built.digest:
        sys.exit(f"zerocve.api built {built.digest}, the command {written}'s digest")
    return elapsed


REBUILDS = 5  # no-change rebuilds per run: each takes about a second, and the load moves


@dataclass(frozen=True)
class Rebuilds:
    """No-change rebuilds (``zerocve build`` with its lock, a warm cache and the output already
    there), each beside the Python interpreter's own start-up (``python -c pass``, run just
    before it under the same load), and the same rebuild through ``zerocve.api`` in a process
    that has made one before."""

    commands: list[Child]
    interpreter: list[Child]
    in_process: list[float]

    @classmethod
    def joined(cls, parts: list[Rebuilds]) -> Rebuilds:
        return cls([c for p in parts for c in p.commands],
                   [c for p in parts for c in p.interpreter],
                   [t for p in parts for t in p.in_process])

    def print(self, mm_time: float) -> None:
        wall = statistics.median(c.seconds for c in self.commands)
        cpu = statistics.median(c.cpu for c in self.commands)
        floor = statistics.median(c.seconds for c in self.interpreter)
        floor_cpu = statistics.median(c.cpu for c in self.interpreter)
        print(f"  no-change rebuild  zerocve {wall:6.2f} s   CPU {cpu:.2f} s (goal < 0.5 s; "
              f"{mm_time / wall:.0f}x faster than an mmdebstrap build; medians of "
              f"{len(self.commands)})")
        # A receipt answers from the third no-change run on (zerocve.receipt): each in order.
        print("    each, in order           "
              + " ".join(f"{c.seconds:.2f}" for c in self.commands) + " s")
        print(f"    python -c pass           {floor:6.2f} s   CPU {floor_cpu:.2f} s (the "
              f"interpreter's start-up alone: {floor / wall:.0%} of the rebuild's wall clock)")
        print(f"  no-change rebuild  zerocve.api {statistics.median(self.in_process):6.3f} s "
              f"in process ({mm_time / statistics.median(self.in_process):.0f}x faster than "
              "an mmdebstrap build)")


def no_change_rebuilds(spec: Path, cache: Path, out: Path) -> Rebuilds:
    """``REBUILDS`` no-change rebuilds of ``spec`` into ``out`` (built before, its lock
    beside it) with ``cache`` (see ``Rebuilds``)."""
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
    build = [sys.executable, "-m", "zerocve", "-q", "build", str(spec), "-o", str(out)]
    commands, interpreter = [], []
    for _ in range(REBUILDS):
        interpreter.append(run_child([sys.executable, "-c", "pass"], env))
        commands.append(run_child(build, env))
    api_rebuild(spec, cache, out)  # the rebuild loop is a long-lived process: imports done
    return Rebuilds(commands, interpreter,
                    [api_rebuild(spec, cache, out) for _ in range(REBUILDS)])


def apt_install_set(names: list[str]) -> list[str]:
    """What apt would install for ``names`` on an empty system, from the host's lists."""
    status = Path(tempfile.mkstemp(prefix="zerocve-bench-status-")[1])
    try:
        done = subprocess.run(
            ["apt-get", "install", "--simulate", "--no-install-recommends",
             "-o", f"Dir::State::status={status}", "-o", "Debug::NoLocking=1", *names],
            capture_output=True, text=True)
    finally:
        status.unlink()
    if done.returncode != 0:
        sys.exit(f"apt-get install --simulate {' '.join(names)} failed:\n{done.stderr}")
    return [line.split()[1] for line in done.stdout.splitlines() if line.startswith("Inst ")]


def exact_repo(root: Path, key: SigningKey) -> AptRepo:
    """A signed repository of what apt installs for each growth spec alone (zerocve) and with
    the Essential set (mmdebstrap): every package closure would also fetch for an alternative
    not taken (hundreds of megabytes more for the toolchain) is left out."""
    names: set[str] = set()
    for packages in GROWTH_SPECS.values():
        names.update(apt_install_set(packages))
        names.update(apt_install_set([*packages, *ESSENTIAL_PACKAGES]))
    return build_repo(root, sorted(names), key, foreign={}, expand=list)


@dataclass(frozen=True)
class GrowthPoint:
    """One spec's cold build by both tools (medians over the runs)."""

    spec: str
    zerocve_packages: int
    mmdebstrap_packages: int
    zerocve_seconds: float
    zerocve_peak: int  # bytes of resident memory
    mmdebstrap_seconds: float
    zerocve_cpu: float  # user + system seconds (mmdebstrap's with the apt and dpkg it runs)
    mmdebstrap_cpu: float
    zerocve_bytes: tuple[int, int]  # uncompressed layers, gzip layers
    mmdebstrap_bytes: tuple[int, int]  # tar, tar at gzip -6


def _status_packages(tar: Path) -> int:
    """Packages in the dpkg status file inside an mmdebstrap tar."""
    done = subprocess.run(["tar", "-xOf", str(tar), "./var/lib/dpkg/status"],
                          capture_output=True, text=True, check=True)
    return sum(line.startswith("Package: ") for line in done.stdout.splitlines())


def measure_growth(work: Path, key: SigningKey, keyring: Path, runs: int) -> list[GrowthPoint]:
    repo = exact_repo(work / "repo", key)
    points = []
    for name, packages in GROWTH_SPECS.items():
        spec = work / f"{name}.yaml"
        spec.write_text(yaml.safe_dump({"contents": {
            "packages": packages,
            "repositories": [{"uri": repo.uri, "suites": repo.suites,
                              "keyring": str(keyring)}]}}))
        z_runs, mm_runs = [], []
        for run in range(runs):
            z_runs.append(cold_build(spec, work / f"cache-{name}-{run}",
                                     work / f"{name}-zerocve-{run}"))
            tar = work / f"{name}-mmdebstrap-{run}.tar"
            mm_runs.append(run_child(mmdebstrap_cmd(repo, keyring, packages, tar)))
        tar = work / f"{name}-mmdebstrap-0.tar"
        locked = yaml.safe_load((work / f"{name}.lock.json").read_text())  # JSON is YAML
        points.append(GrowthPoint(
            spec=name,
            zerocve_packages=len(locked["archs"]["amd64"]["packages"]),
            mmdebstrap_packages=_status_packages(tar),
            zerocve_seconds=statistics.median(r.seconds for r in z_runs),
            zerocve_peak=max(r.peak for r in z_runs),
            mmdebstrap_seconds=statistics.median(r.seconds for r in mm_runs),
            zerocve_cpu=statistics.median(r.cpu for r in z_runs),
            mmdebstrap_cpu=statistics.median(r.cpu for r in mm_runs),
            zerocve_bytes=layout_sizes(work / f"{name}-zerocve-0"),
            mmdebstrap_bytes=(tar.stat().st_size, gzip_size(tar)),
        ))
    return points


def print_growth(points: list[GrowthPoint], runs: int) -> None:
    print(f"how cost grows: cold build (zerocve build with no lock), {runs} run(s) per spec, "
          "medians")
    print(f"  {'spec':<16} {'packages':>9} {'zerocve':>9} {'mmdebstrap':>11} {'faster':>7}"
          f" {'zerocve MB':>11} {'mmdebstrap MB':>14} {'size':>6} {'gzip MB':>16} {'gzip':>6}"
          f" {'peak RSS':>9} {'CPU s':>13} {'CPU':>6}")
    for p in points:
        (z_raw, z_gz), (mm_raw, mm_gz) = p.zerocve_bytes, p.mmdebstrap_bytes
        print(f"  {p.spec:<16} {p.zerocve_packages:>4}/{p.mmdebstrap_packages:<4}"
              f" {p.zerocve_seconds:>7.2f} s {p.mmdebstrap_seconds:>9.2f} s"
              f" {p.mmdebstrap_seconds / p.zerocve_seconds:>6.1f}x"
              f" {z_raw / 1e6:>11.1f} {mm_raw / 1e6:>14.1f} {z_raw / mm_raw:>6.2f}"
              f" {z_gz / 1e6:>7.1f}/{mm_gz / 1e6:<8.1f} {z_gz / mm_gz:>6.2f}"
              f" {p.zerocve_peak / 1e6:>6.0f} MB"
              f" {p.zerocve_cpu:>6.1f}/{p.mmdebstrap_cpu:<6.1f}"
              f" {p.mmdebstrap_cpu / p.zerocve_cpu:>5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mirror", action="store_true",
                        help="build from the host's apt sources instead of a local repository")
    parser.add_argument("--growth-runs", type=int, default=1,
                        help="runs per spec of GROWTH_SPECS (0: skip)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: mmdebstrap --mode=root needs it")
    compile_zerocve()
    if args.mirror:
        compare_with_mirror(args.runs)
        return

    work = Path(tempfile.mkdtemp(prefix="zerocve-bench-"))
    work.chmod(0o755)  # apt inside mmdebstrap drops to the _apt user
    try:
        key = SigningKey.create(work / "gnupg")
        keyring = work / "keyring.gpg"
        shutil.copyfile(key.keyring, keyring)
        keyring.chmod(0o644)
        repo = build_repo(work / "repo", [*IMAGE_PACKAGES, *ESSENTIAL_PACKAGES], key)

        example = yaml.safe_load((ROOT / "examples" / "python.yaml").read_text())
        example["contents"]["repositories"] = [
            {"uri": repo.uri, "suites": repo.suites, "keyring": str(keyring)}
        ]
        spec = work / "python.yaml"
        spec.write_text(yaml.safe_dump(example))
        packages = example["contents"]["packages"]

        zerocve_times: list[float] = []
        mm_times: list[float] = []
        zerocve_cpu: list[float] = []
        mm_cpu: list[float] = []
        peaks: list[int] = []
        rebuilds: list[Rebuilds] = []
        two_runs: list[LockThenBuild] = []
        for run in range(args.runs):
            cache = work / f"cache-{run}"
            out = work / f"zerocve-{run}"
            two_runs.append(lock_then_build(spec, work / f"cache-two-{run}",
                                            work / f"zerocve-two-{run}"))
            cold = cold_build(spec, cache, out)
            zerocve_times.append(cold.seconds)
            zerocve_cpu.append(cold.cpu)
            peaks.append(cold.peak)
            rebuilds.append(no_change_rebuilds(spec, cache, out))
            tar = work / f"mmdebstrap-{run}.tar"
            mm = run_child(mmdebstrap_cmd(repo, keyring, packages, tar))
            mm_times.append(mm.seconds)
            mm_cpu.append(mm.cpu)

        z_raw, z_gz = layout_sizes(work / "zerocve-0")
        mm_raw = (work / "mmdebstrap-0.tar").stat().st_size
        mm_gz = gzip_size(work / "mmdebstrap-0.tar")
        z_time, mm_time = statistics.median(zerocve_times), statistics.median(mm_times)

        print(f"python example, {args.runs} runs each, medians (same local repository)")
        print(f"  cold build time    zerocve {z_time:6.2f} s   mmdebstrap {mm_time:6.2f} s"
              f"   ratio {mm_time / z_time:5.1f}x faster (goal >= 10x; `zerocve build` with no "
              "lock: resolve, fetch and build in one process)")
        z_cpu, m_cpu = statistics.median(zerocve_cpu), statistics.median(mm_cpu)
        print(f"  cold build CPU     zerocve {z_cpu:6.2f} s   mmdebstrap {m_cpu:6.2f} s"
              f"   ratio {m_cpu / z_cpu:5.1f}x less (user + system; mmdebstrap's with the"
              " apt and dpkg it runs)")
        print_two_commands(two_runs, mm_time)
        print(f"  peak memory        zerocve {max(peaks) / 1e6:6.0f} MB  (the cold build, "
              "goal < 150 MB)")
        print(f"  size uncompressed  zerocve {z_raw / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_raw / 1e6:6.1f} MB  ratio {z_raw / mm_raw:5.2f} of mmdebstrap"
              " (goal <= 0.25)")
        print(f"  size gzip          zerocve {z_gz / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_gz / 1e6:6.1f} MB  ratio {z_gz / mm_gz:5.2f} of mmdebstrap")
        Rebuilds.joined(rebuilds).print(mm_time)
        if args.growth_runs > 0:
            print_growth(measure_growth(work / "growth", key, keyring, args.growth_runs),
                         args.growth_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
