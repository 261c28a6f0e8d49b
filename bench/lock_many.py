#!/usr/bin/env python3
"""Many specs, one universe (issue 10.2): lock 50 different specs against one ``api.Indices``
in one process, as the fleet's daily check does, and print the time of all 50 together (the
resolver's universe built once included; fetching the indices is timed apart).

Each spec asks for one package, a different one each time, taken at even steps through the
sorted names the indices offer for the host's architecture. A spec that does not resolve is
counted (and its time included), not skipped.

Against a local signed repository of the examples' packages (built like the tests'), or with
``--mirror`` against the host's own apt sources (what ``zerocve lock`` reads when a spec names
no repository), from an empty cache. Goal: under 3 s in all.

    python3 bench/lock_many.py [--mirror] [--specs 50]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.aptrepo import ESSENTIAL_PACKAGES, IMAGE_PACKAGES, SigningKey, build_repo  # noqa: E402


def local_spec(work: Path) -> Path:
    """The python example against a signed local repository of the tests' packages."""
    key = SigningKey.create(work / "gnupg")
    repo = build_repo(work / "repo", [*IMAGE_PACKAGES, *ESSENTIAL_PACKAGES], key)
    example = yaml.safe_load((ROOT / "examples" / "python.yaml").read_text())
    example["contents"]["repositories"] = [
        {"uri": repo.uri, "suites": repo.suites, "keyring": str(key.keyring)}
    ]
    spec = work / "python.yaml"
    spec.write_text(yaml.safe_dump(example))
    return spec


def lock_many(spec_path: Path, cache: Path, count: int) -> None:
    from zerocve import api
    from zerocve.errors import ZerocveError
    from zerocve.settings import Settings

    settings = Settings.from_env(cache_dir=cache)
    spec = api.load_spec(spec_path)
    start = time.perf_counter()
    indices = api.fetch_indices(api.repositories_of(spec, settings), api.index_archs(spec),
                                settings)
    fetched = time.perf_counter() - start
    arch = spec.archs[0]
    names = sorted({p.name for index in indices.all() for p in index.packages
                    if p.architecture in (arch, "all")})
    step = max(1, len(names) // count)
    chosen = names[::step][:count]
    failed = 0
    start = time.perf_counter()
    for name in chosen:
        one = spec.model_copy(
            update={"contents": spec.contents.model_copy(update={"packages": [name]})})
        try:
            api.lock(one, settings, indices=indices)
        except ZerocveError:
            failed += 1
    locked = time.perf_counter() - start
    print(f"{len(chosen)} specs locked against one api.Indices ({len(names)} package names), "
          f"{failed} unresolvable")
    print(f"  all {len(chosen)} locks  {locked:6.2f} s   (goal < 3 s; "
          f"{locked / len(chosen) * 1000:.0f} ms a spec, the universe built once)")
    print(f"  fetching indices {fetched:6.2f} s   (apart: once per cycle)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", action="store_true",
                        help="use the host's apt sources instead of a local repository")
    parser.add_argument("--specs", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zerocve-bench-"))
    try:
        if args.mirror:
            spec = work / "python.yaml"  # names no repository: the host's apt sources
            shutil.copyfile(ROOT / "examples" / "python.yaml", spec)
        else:
            spec = local_spec(work)
        lock_many(spec, work / "cache", args.specs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
