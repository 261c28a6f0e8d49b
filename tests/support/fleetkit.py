"""Fleet test helpers: specs on the loopback apt repository, images built and pushed to the
registry fixture through the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from support.aptrepo import (
    SUITES,
    AptRepo,
    SigningKey,
    closure,
    download_many,
    offered_versions,
)
from support.data import advisory
from zerocve import api
from zerocve.settings import Settings


def write_spec(
    directory: Path, name: str, repo: AptRepo, packages: list[str], **extra: Any
) -> Path:
    """An image spec named ``NAME.yaml`` in ``directory`` that uses the loopback repository."""
    spec = {
        "contents": {
            "repositories": [
                {
                    "uri": repo.uri,
                    "suites": list(repo.suites),
                    "components": ["main"],
                    "keyring": str(repo.keyring),
                }
            ],
            "packages": packages,
        },
        **extra,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _build(spec: Path, settings: Settings) -> api.BuiltImage:
    loaded = api.load_spec(spec)
    lock = api.lock_for_build(loaded, api.default_lock_path(spec), settings)
    return api.build(loaded, lock, settings)


def push_spec(spec: Path, reference: str) -> str:
    """Build ``spec`` and push it to ``reference``; the image's digest."""
    settings = Settings.from_env()
    return api.publish(_build(spec, settings), reference, settings).digest


def build_layout(spec: Path, directory: Path, tag: str = "latest") -> Path:
    """Build ``spec`` into the OCI layout ``directory``."""
    return api.write_layout(_build(spec, Settings.from_env()), directory, tag)


def fleet_repo(
    root: Path, key: SigningKey, packages: list[str], held_back: str
) -> tuple[AptRepo, list[Path]]:
    """A signed repository of every version the host offers of the closure of ``packages``,
    except ``held_back``'s bookworm-security version, which is returned (its .debs) for the
    test to publish later: "Debian ships a fix"."""
    offered = offered_versions(closure(packages))
    debs = download_many([(name, version) for name, version, _ in offered])
    repo = AptRepo(root=root, key=key)
    later: list[Path] = []
    for suite in SUITES:
        chosen = []
        for name, version, where in offered:
            if where != suite:
                continue
            if name == held_back and suite == "bookworm-security":
                later.append(debs[name, version])
            else:
                chosen.append(debs[name, version])
        repo.publish(sorted(chosen), suite)
    assert later, f"the host offers no bookworm-security version of {held_back}"
    return repo, later


def osv_db(directory: Path, source: str, fixed: str) -> dict[str, str]:
    """An environment whose advisory DB holds one OSV record: CVE-2099-0001 in ``source``,
    fixed in ``fixed``."""
    feed = directory / "feed"
    feed.mkdir(parents=True)
    (feed / "CVE-2099-0001.json").write_text(json.dumps(advisory(source, fixed)))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(directory / "cache"),
           "ZEROCVE_STATE_DIR": str(directory / "state"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "zerocve", "db", "update", "--osv", str(feed)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return env
