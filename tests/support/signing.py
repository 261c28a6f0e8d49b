"""For the signing tests: key pairs, the CLI as a user runs it, plain registry reads (httpx,
not zerocve's client, so that what is checked is what the registry serves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

PASSPHRASE = "correct horse"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def zerocve(*args: str, home: Path, env: dict[str, str] | None = None,
            stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "HOME": str(home), "COLUMNS": "200",
               "COSIGN_PASSWORD": PASSPHRASE, **(env or {})}
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        environ.pop(name, None)
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, timeout=300, env=environ, stdin=stdin)


def make_key_pair(directory: Path, name: str) -> KeyPair:
    result = zerocve("key", "generate", "--output", str(directory / name), home=directory)
    assert result.returncode == 0, result.stderr
    return KeyPair(directory / f"{name}.key", directory / f"{name}.pub")


def manifest(host: str, repo: str, reference: str) -> tuple[dict, str] | None:
    """A manifest or index as the registry serves it (and its digest), None when absent."""
    response = httpx.get(f"http://{host}/v2/{repo}/manifests/{reference}", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.oci.image.index.v1+json"})
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return json.loads(response.content), response.headers["Docker-Content-Digest"]


def blob(host: str, repo: str, digest: str) -> bytes:
    response = httpx.get(f"http://{host}/v2/{repo}/blobs/{digest}", follow_redirects=True)
    response.raise_for_status()
    return response.content


def tags(host: str, repo: str) -> list[str]:
    response = httpx.get(f"http://{host}/v2/{repo}/tags/list")
    response.raise_for_status()
    return sorted(response.json().get("tags") or [])


def tag_of(digest: str, suffix: str) -> str:
    return digest.replace(":", "-") + suffix
