"""`zerocve build`: spec (+ lock) -> verified .debs -> OCI image layout or oci-archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerocve.build.cache import BuildCache
from zerocve.build.image import BuiltImage, build, write_archive, write_layout
from zerocve.cli._app import app, console, reporter
from zerocve.cli._gate import (
    FailOnOption,
    MinSeverityOption,
    NoScanOption,
    VexOption,
    gate_image,
)
from zerocve.cli._options import DbOption, IgnoreValidUntilOption, LockedOption, SpecArgument
from zerocve.debian.repo import DebRef, RepoClient
from zerocve.debian.sources import host_repositories
from zerocve.debian.version import compare
from zerocve.errors import UsageError
from zerocve.lock import Lock, default_lock_path, load_or_resolve
from zerocve.oci.layout import DEFAULT_REF
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
    with RepoClient(reporter=reporter, ignore_valid_until=ignore_valid_until) as client:
        lock = load_or_resolve(spec, default_lock_path(spec_path), client.fetch_indices,
                               host_repositories, locked=locked)
        debs = fetch_locked_debs(client, lock, spec.archs)
    built = build(spec, lock, debs, reporter=reporter, cache=BuildCache() if use_cache else None)
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
    from zerocve._atomic import write_atomic
    from zerocve.errors import BuildError
    from zerocve.inventory.targets import open_inventory
    from zerocve.sbom import lock_checksums, render_sbom

    written = []
    for platform, path in sbom_paths(built, target).items():
        inventory = open_inventory(str(target), platform=platform)
        document = render_sbom(inventory, "spdx-json", epoch=built.epoch,
                               checksums=lock_checksums(lock, inventory))
        write_atomic(path, document.encode(), error=BuildError, what="cannot write the SBOM")
        written.append(path)
    return written


def summary(built: BuiltImage, target: Path) -> str:
    parts = [
        f"{a.arch}: {len(a.packages)} packages, {len(a.layers)} layers, "
        f"{sum(layer.size for layer in a.layers) / 1e6:.1f} MB"
        for a in built.archs
    ]
    return f"{target}: " + "; ".join(parts)


EPILOG = """\
[bold]Examples[/]
  zerocve build image.yaml -o out/app          OCI layout + out/app.spdx.json
  zerocve build image.yaml --tar app.oci.tar   oci-archive
  zerocve build image.yaml -o out/app --locked --fail-on fixed   CI: pinned, gated
  podman run --rm oci:out/app                  run it
  skopeo copy oci:out/app docker://registry.example/team/app:1   or use zerocve publish
"""


@app.command(
    "build",
    epilog=EPILOG,
    help=(
        "Build the image a spec describes, as an OCI layout (-o DIR) or an oci-archive "
        "(--tar FILE).\n\n"
        "Uses the lock beside the spec (image.yaml → image.lock.json) while it matches the "
        "spec, and re-resolves otherwise (the new resolution is not written: run [bold]zerocve "
        "lock[/] to pin it); under --locked a missing or stale lock is an error. Every .deb is "
        "checked against the lock's SHA256. Several archs give a multi-platform index. The "
        "same lock always gives the same digest (mtimes clamped to SOURCE_DATE_EPOCH, or the "
        "lock's date). The output is written aside and renamed into place: a failed build "
        "leaves the previous output as it was. Unchanged inputs are read back from the build "
        "cache (under the zerocve cache dir, $ZEROCVE_CACHE_DIR), and layers whose bytes did "
        "not change are not compressed again. Prints the image digest on stdout.\n\n"
        "SBOMs: the image carries an SPDX 2.3 document at /var/lib/db/sbom/image.spdx.json, "
        "and one naming the image digest is written beside the output (DIR.spdx.json, or "
        "DIR.linux-arm64.spdx.json per platform of a multi-platform image).\n\n"
        "The written image is then scanned against the local advisory DB (when there is one) "
        "and a summary printed; --fail-on makes findings exit 1, as in [bold]zerocve scan[/]."
    ),
)
def build_command(
    spec_path: SpecArgument,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="DIR", help="Write an OCI image layout here.",
                     show_default=False),
    ] = None,
    tar: Annotated[
        Path | None,
        typer.Option("--tar", metavar="FILE", help="Write an oci-archive tarball here.",
                     show_default=False),
    ] = None,
    locked: LockedOption = False,
    ignore_valid_until: IgnoreValidUntilOption = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Build everything again; neither read nor fill the "
                     "build cache."),
    ] = False,
    tag: Annotated[
        str,
        typer.Option("--tag", help="The reference name recorded in the layout's index.json."),
    ] = DEFAULT_REF,
    fail_on: FailOnOption = None,
    min_severity: MinSeverityOption = None,
    vex_files: VexOption = None,
    db_path: DbOption = None,
    no_scan: NoScanOption = False,
) -> None:
    if (output is None) == (tar is None):
        raise UsageError("give exactly one of -o DIR or --tar FILE")
    progress = reporter()
    built, lock = build_spec(
        spec_path, locked=locked, ignore_valid_until=ignore_valid_until, reporter=progress,
        use_cache=not no_cache,
    )
    if output is not None:
        target = write_layout(built, output, tag)
    else:
        assert tar is not None
        target = write_archive(built, tar, tag)
    sboms = write_sboms_beside(built, lock, target)
    progress.note(summary(built, target) + "; SBOM " + ", ".join(str(p) for p in sboms))
    console.print(built.digest, highlight=False)
    if not no_scan:
        gate_image(
            target, action="build", fail_on=fail_on, min_severity=min_severity,
            vex_files=vex_files, db_path=db_path, require_db=False, reporter=progress,
            platforms=platforms(built),
            offered_versions=lambda: offered_source_versions(
                spec_path, ignore_valid_until=ignore_valid_until, reporter=progress),
        )
