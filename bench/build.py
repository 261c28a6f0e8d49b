#!/usr/bin/env python3
"""Build the python example with zerocve and the same package list with mmdebstrap
(variant essential, packed as a tar) from the same warm local repository, in one run.

Prints ratios (mmdebstrap / zerocve): build time (zerocve: lock + build, cold cache),
uncompressed size, gzip-compressed size, and zerocve's no-change rebuild time (the whole
`zerocve build` command with its lock and a warm cache, Python start-up included; and the same
rebuild through the library API in one process, as the rebuild loop runs it, which must give
the command's digest).
Goals: >= 5x faster, <= half the size, rebuild < 1 s.

Also printed: the peak resident memory of the cold build (the larger ru_maxrss of the lock and
build commands; goal < 150 MB).

``--mirror``: the same cold build from the host's own Debian mirror instead (its apt sources,
which zerocve reads when a spec names no repository, and which mmdebstrap is given as they
are), empty cache and no lock, side by side with mmdebstrap; goal >= 10x (issue 10.1).

Run as root (mmdebstrap --mode=root): python3 bench/build.py [--runs 3] [--mirror]
"""

from __future__ import annotations

import argparse
import gzip
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

from support.aptrepo import ESSENTIAL_PACKAGES, IMAGE_PACKAGES, SigningKey, build_repo  # noqa: E402


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes, the child's own ru_maxrss) of ``cmd``; exits
    when it fails."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # this child's usage, not all children's
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{errors.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss * 1024


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    return measured(cmd, env)[0]


def cold_build(spec: Path, cache: Path, out: Path) -> tuple[float, int]:
    """Seconds and peak memory of ``zerocve lock`` then ``zerocve build`` with an empty
    ``cache`` and no lock: resolving is part of a build (mmdebstrap resolves too)."""
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
    zerocve = [sys.executable, "-m", "zerocve", "-q"]
    spec.with_name(spec.stem + ".lock.json").unlink(missing_ok=True)
    lock_time, lock_peak = measured([*zerocve, "lock", str(spec)], env)
    build_time, build_peak = measured([*zerocve, "build", str(spec), "-o", str(out)], env)
    return lock_time + build_time, max(lock_peak, build_peak)


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
        zerocve_runs, mm_times = [], []
        for run in range(runs):
            zerocve_runs.append(cold_build(spec, work / f"cache-{run}", work / f"zerocve-{run}"))
            tar = work / f"mmdebstrap-{run}.tar"
            mm_times.append(timed(
                ["mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
                 f"--include={packages}", host_codename(), str(tar), *map(str, sources)]))
        z_time = statistics.median(t for t, _ in zerocve_runs)
        mm_time = statistics.median(mm_times)
        peak = max(p for _, p in zerocve_runs)
        z_raw, z_gz = layout_sizes(work / "zerocve-0")
        mm_raw = (work / "mmdebstrap-0.tar").stat().st_size
        print(f"python example, {runs} runs each, medians (the host's mirror: "
              f"{', '.join(map(str, sources))}; empty cache, no lock)")
        print(f"  cold build time    zerocve {z_time:6.2f} s   mmdebstrap {mm_time:6.2f} s"
              f"   ratio {mm_time / z_time:5.1f}x faster (goal >= 10x)")
        print(f"  peak memory        zerocve {peak / 1e6:6.0f} MB  (cold lock + build, "
              "goal < 150 MB)")
        print(f"  size uncompressed  zerocve {z_raw / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_raw / 1e6:6.1f} MB  ratio {z_raw / mm_raw:5.2f} of mmdebstrap")
        print(f"  size gzip          zerocve {z_gz / 1e6:6.1f} MB")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mirror", action="store_true",
                        help="build from the host's apt sources instead of a local repository")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: mmdebstrap --mode=root needs it")
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
        packages = ",".join(example["contents"]["packages"])

        zerocve_times, mm_times, rebuild_times, api_times, peaks = [], [], [], [], []
        for run in range(args.runs):
            cache = work / f"cache-{run}"
            env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
            out = work / f"zerocve-{run}"
            zerocve = [sys.executable, "-m", "zerocve", "-q"]
            build = [*zerocve, "build", str(spec), "-o", str(out)]
            seconds, peak = cold_build(spec, cache, out)
            zerocve_times.append(seconds)
            peaks.append(peak)
            rebuild_times.append(timed(build, env))
            api_times.append(api_rebuild(spec, cache, out))
            tar = work / f"mmdebstrap-{run}.tar"
            sources = [
                f"deb [signed-by={keyring}] copy://{repo.root} {suite} main"
                for suite in repo.suites
            ]
            mm_times.append(
                timed(
                    ["mmdebstrap", "--quiet", "--variant=essential", "--mode=root",
                     f"--include={packages}", "bookworm", str(tar), *sources]
                )
            )

        z_raw, z_gz = layout_sizes(work / "zerocve-0")
        mm_raw = (work / "mmdebstrap-0.tar").stat().st_size
        mm_gz = len(gzip.compress((work / "mmdebstrap-0.tar").read_bytes(), compresslevel=6))
        z_time, mm_time = statistics.median(zerocve_times), statistics.median(mm_times)
        rebuild = statistics.median(rebuild_times)
        in_process = statistics.median(api_times)

        print(f"python example, {args.runs} runs each, medians (same local repository)")
        print(f"  build time         zerocve {z_time:6.2f} s   mmdebstrap {mm_time:6.2f} s"
              f"   ratio {mm_time / z_time:5.1f}x faster")
        print(f"  peak memory        zerocve {max(peaks) / 1e6:6.0f} MB  (cold lock + build, "
              "goal < 150 MB)")
        print(f"  size uncompressed  zerocve {z_raw / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_raw / 1e6:6.1f} MB  ratio {z_raw / mm_raw:5.2f} of mmdebstrap")
        print(f"  size gzip          zerocve {z_gz / 1e6:6.1f} MB"
              f"  mmdebstrap {mm_gz / 1e6:6.1f} MB  ratio {z_gz / mm_gz:5.2f} of mmdebstrap")
        print(f"  no-change rebuild  zerocve {rebuild:6.2f} s   (goal < 1 s; "
              f"{mm_time / rebuild:.0f}x faster than an mmdebstrap build)")
        print(f"  no-change rebuild  zerocve.api {in_process:6.3f} s in process "
              f"({mm_time / in_process:.0f}x faster than an mmdebstrap build)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
