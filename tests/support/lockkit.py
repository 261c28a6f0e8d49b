"""Small signed repositories of dpkg-deb-built packages, image specs that use them, and
``python -m zerocve`` runs: what the hostile repository and lock tests build their attacks on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from support.aptrepo import AptRepo, SigningKey, make_deb

SUITE = "bookworm"


def zerocve(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerocve", *map(str, args)],
                          capture_output=True, text=True, check=False, env=env)


def hello_debs(directory: Path, version: str = "1.0") -> list[Path]:
    """``hello`` (Source: hello-src) depending on ``hello-lib``, both at ``version``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        make_deb(directory, "hello-lib", version),
        make_deb(directory, "hello", version, Source="hello-src",
                 Depends=f"hello-lib (>= {version})"),
    ]


def signed_repo(root: Path, key: SigningKey, debs: list[Path], suite: str = SUITE) -> AptRepo:
    repo = AptRepo(root=root, key=key, suites=[suite])
    repo.publish(debs, suite)
    return repo


def write_spec(path: Path, repo: AptRepo, packages: list[str], **extra: Any) -> Path:
    spec = {
        "contents": {
            "repositories": [{"uri": repo.uri, "suites": repo.suites,
                              "keyring": str(repo.keyring)}],
            "packages": packages,
        },
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def edit_lock(path: Path, edit: Any) -> None:
    """Rewrite a lock file as an attacker would: ``edit(data)`` changes the parsed JSON."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def package_entry(lock: dict[str, Any], name: str, arch: str = "amd64") -> dict[str, Any]:
    return next(p for p in lock["archs"][arch]["packages"] if p["name"] == name)
