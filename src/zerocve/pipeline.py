"""Spec → lock → verified .debs → image, and what follows a build: the steps `zerocve build`
and `zerocve publish` share (the CLI only parses arguments and prints)."""

from __future__ import annotations

import json
from pathlib import Path

from zerocve.assemble.cache import BuildCache
from zerocve.assemble.image import BuiltImage, build
from zerocve.debian.repo import DebRef, RepoClient
from zerocve.debian.sources import host_repositories
from zerocve.debian.version import compare
from zerocve.errors import BuildError
from zerocve.lock import (
    Lock,
    LockedPackage,
    default_lock_path,
    load_or_resolve,
    repositories_for,
    verify_lock,
)
from zerocve.oci.image import MEDIA_INDEX
from zerocve.outputs import OutputKind, write_file
from zerocve.progress import Reporter
from zerocve.spec import load_spec


def fetch_locked_debs(
    client: RepoClient, lock: Lock, archs: list[str]
) -> dict[tuple[str, str], Path]:
    """Every .deb the lock names for ``archs``, fetched (or found in the cache) and verified
    against the lock's size and SHA256; keyed by (package name, package architecture)."""
    wanted: dict[tuple[str, str], DebRef] = {}
    for arch in archs:
        locked = lock.archs.get(arch)
        for package in locked.packages if locked else ():
            wanted.setdefault(
                (package.name, package.architecture),
                DebRef(package.uri, package.filename, package.size, package.sha256),
            )
    keys = sorted(wanted)
    paths = client.fetch_debs([wanted[key] for key in keys])
    return dict(zip(keys, paths, strict=True))


def build_spec(
    spec_path: Path,
    *,
    locked: bool,
    ignore_valid_until: bool,
    reporter: Reporter,
    use_cache: bool = True,
) -> tuple[BuiltImage, Lock]:
    """Spec (+ lock) -> verified .debs -> the image in memory, nothing written yet: what
    ``zerocve build`` does before writing, shared with ``zerocve publish``."""
    spec = load_spec(spec_path)
    lock_path = default_lock_path(spec_path)
    repositories = repositories_for(spec, host_repositories)
    with RepoClient(reporter=reporter, ignore_valid_until=ignore_valid_until) as client:
        lock = load_or_resolve(spec, lock_path, client.fetch_indices, lambda: repositories,
                               locked=locked)
        # Nothing of a lock is installed before it is checked against the signed indices.
        trusted = verify_lock(lock, spec, repositories, client.fetch_pinned_index,
                              where=str(lock_path))
        debs = fetch_locked_debs(client, lock, spec.archs)
    built = build(spec, lock, debs, reporter=reporter, cache=BuildCache() if use_cache else None,
                  releases=trusted.releases)
    return built, lock


def offered_source_versions(
    spec_path: Path, *, ignore_valid_until: bool, reporter: Reporter
) -> dict[str, str]:
    """The newest version of each source package the spec's repositories offer now (for the
    gate: a fix they do not carry is not one a rebuild can pick up)."""
    spec = load_spec(spec_path)
    repositories = spec.contents.repositories or host_repositories()
    newest: dict[str, str] = {}
    with RepoClient(reporter=reporter, ignore_valid_until=ignore_valid_until) as client:
        for arch in spec.archs:
            for index in client.fetch_indices(repositories, arch):
                for package in index.packages:
                    known = newest.get(package.source)
                    if known is None or compare(package.source_version, known) > 0:
                        newest[package.source] = package.source_version
    return newest


def platforms(built: BuiltImage) -> list[str | None]:
    """Each image's platform as --platform names it (``linux/arm64/v8``); None when the build
    made a single image."""
    if len(built.archs) == 1:
        return [None]
    return [
        "/".join(p for p in (a.platform.os, a.platform.architecture, a.platform.variant) if p)
        for a in built.archs
    ]


def locked_packages(built: BuiltImage, lock: Lock) -> list[list[LockedPackage]]:
    """The lock's packages for each image of ``built``, in ``platforms(built)`` order: what
    the gate must read back from the written image."""
    return [lock.archs[a.arch].packages for a in built.archs]


def sbom_paths(built: BuiltImage, target: Path) -> dict[str | None, Path]:
    """Where the SBOMs beside an image go: ``TARGET.spdx.json``, or one per platform
    (``TARGET.linux-arm64-v8.spdx.json``) for a multi-platform index; keyed by platform."""
    return {
        platform: target.with_name(
            f"{target.name}{'.' + platform.replace('/', '-') if platform else ''}.spdx.json"
        )
        for platform in platforms(built)
    }


def write_sboms_beside(built: BuiltImage, lock: Lock, target: Path) -> list[Path]:
    """SPDX documents of the written image, read back as any scanner reads it, naming its
    digest (which the SBOM inside the image cannot), with the lock's .deb SHA256s."""
    # Imported here: reading images back weighs on every build's start-up.
    from zerocve.inventory.targets import open_inventory
    from zerocve.sbom import lock_checksums, render_sbom

    written = []
    for platform, path in sbom_paths(built, target).items():
        inventory = open_inventory(str(target), platform=platform)
        document = render_sbom(inventory, "spdx-json", epoch=built.epoch,
                               checksums=lock_checksums(lock, inventory))
        write_file(path, document.encode(), OutputKind.SPDX, error=BuildError,
                   what="cannot write the SBOM")
        written.append(path)
    return written


def layout_platforms(layout: Path) -> list[str | None]:
    """The platforms of a layout's image index (``linux/arm64/v8``), or [None] for a single
    image. A layout that cannot be read this far is left for the scan to report."""
    try:
        top = json.loads((layout / "index.json").read_text())["manifests"][0]
        if top.get("mediaType") != MEDIA_INDEX:
            return [None]
        index = json.loads((layout / "blobs" / "sha256" / top["digest"][7:]).read_text())
        return [
            "/".join(m["platform"][k] for k in ("os", "architecture", "variant")
                     if m["platform"].get(k))
            for m in index["manifests"]
        ]
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return [None]
