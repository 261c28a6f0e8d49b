"""Lock values for fleet tests, built from (name, version[, source[, source_version]])."""

from __future__ import annotations

import hashlib

from zerocve.lock import Lock

REPO = "http://127.0.0.1:1/debian"


def package(name: str, version: str, source: str | None = None,
            source_version: str | None = None, arch: str = "amd64") -> dict[str, object]:
    return {
        "name": name, "version": version, "architecture": arch,
        "source": source or name, "source_version": source_version or version,
        "uri": REPO, "suite": "bookworm", "component": "main",
        "filename": f"pool/main/{name[0]}/{name}/{name}_{version}_{arch}.deb",
        "size": 1000, "sha256": hashlib.sha256(f"{name}={version}".encode()).hexdigest(),
    }  # fmt: skip


def make_lock(*packages: tuple[str, ...], archs: tuple[str, ...] = ("amd64",)) -> Lock:
    return Lock.model_validate({
        "spec": "sha256:" + "0" * 64,
        "source_date_epoch": 1730419200,
        "archs": {
            arch: {"indices": [], "packages": [package(*p, arch=arch) for p in sorted(packages)]}
            for arch in archs
        },
    })  # fmt: skip
