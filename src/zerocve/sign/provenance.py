"""SLSA provenance v1 of an image built by zerocve, from its spec and lock. Pure.

Everything in it follows from the spec and lock bytes (no clock, no host, no invocation id),
so the provenance of a rebuild is byte for byte the same:

- ``buildDefinition.buildType``: ``BUILD_TYPE``; ``externalParameters``: the spec (name
  and SHA256), the lock's SHA256, the architectures and SOURCE_DATE_EPOCH;
- ``resolvedDependencies``: the spec and the lock themselves (their bytes as ``content``,
  which ``zerocve verify --rebuild`` rebuilds from), every signed Release text and Packages
  index the lock was resolved from, and every ``.deb``, each with its SHA256;
- ``runDetails.builder``: ``BUILDER_ID`` and zerocve's version.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from zerocve.lock import Lock

BUILD_TYPE = "urn:zerocve:buildtype:debian-image:v1"
BUILDER_ID = "urn:zerocve:builder:local"
SPEC_MEDIA_TYPE = "application/yaml"
LOCK_MEDIA_TYPE = "application/json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file(name: str, data: bytes, media_type: str) -> dict[str, Any]:
    return {"name": name, "digest": {"sha256": _sha256(data)}, "mediaType": media_type,
            "content": base64.b64encode(data).decode()}


def provenance(
    spec_name: str, spec: bytes, lock_name: str, lock_bytes: bytes, lock: Lock, version: str
) -> dict[str, Any]:
    """The predicate. ``lock`` is ``lock_bytes`` parsed (the caller has read it)."""
    repository_files: dict[str, dict[str, Any]] = {}
    debs: dict[str, dict[str, Any]] = {}
    for arch_lock in lock.archs.values():
        for index in arch_lock.indices:
            base = f"{index.uri}/dists/{index.suite}"
            release = f"{base}/Release"
            repository_files.setdefault(release, {
                "uri": release, "digest": {"sha256": index.release_sha256},
                "annotations": {"zerocve.kind": "release", "zerocve.signed": "InRelease or "
                                "Release+Release.gpg, verified; digest of the signed text"},
            })
            packages = f"{base}/{index.path}"
            repository_files.setdefault(packages, {
                "uri": packages, "digest": {"sha256": index.sha256},
                "annotations": {"zerocve.kind": "packages-index"},
            })
        for package in arch_lock.packages:
            uri = f"{package.uri}/{package.filename}"
            debs.setdefault(uri, {
                "uri": uri, "digest": {"sha256": package.sha256},
                "name": f"{package.name}_{package.version}_{package.architecture}.deb",
                "mediaType": "application/vnd.debian.binary-package",
            })
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "spec": {"name": spec_name, "digest": {"sha256": _sha256(spec)}},
                "lock": {"name": lock_name, "digest": {"sha256": _sha256(lock_bytes)}},
                "archs": sorted(lock.archs),
                "sourceDateEpoch": lock.source_date_epoch,
            },
            "resolvedDependencies": [
                _file(spec_name, spec, SPEC_MEDIA_TYPE),
                _file(lock_name, lock_bytes, LOCK_MEDIA_TYPE),
                *(repository_files[k] for k in sorted(repository_files)),
                *(debs[k] for k in sorted(debs)),
            ],
        },
        "runDetails": {"builder": {"id": BUILDER_ID, "version": {"zerocve": version}}},
    }


def build_inputs(predicate: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """The spec and lock a provenance carries: ``{"spec"|"lock": (name, bytes)}``, each
    checked against its digest. Missing or damaged ones are left out."""
    found: dict[str, tuple[str, bytes]] = {}
    dependencies = predicate.get("buildDefinition", {}).get("resolvedDependencies", [])
    kinds = {SPEC_MEDIA_TYPE: "spec", LOCK_MEDIA_TYPE: "lock"}
    for dependency in dependencies if isinstance(dependencies, list) else ():
        if not isinstance(dependency, dict) or "content" not in dependency:
            continue
        kind = kinds.get(dependency.get("mediaType", ""))
        try:
            data = base64.b64decode(dependency["content"], validate=True)
        except (TypeError, ValueError):
            continue
        if kind and dependency.get("digest", {}).get("sha256") == _sha256(data):
            found[kind] = (str(dependency.get("name", kind)), data)
    return found
