"""`zerocve build`: spec (+ lock) -> verified .debs -> OCI image layout or oci-archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerocve import api
from zerocve.assemble.image import BuiltImage
from zerocve.cli._app import app, settings
from zerocve.cli._build_receipt import BuildFacts
from zerocve.cli._gate import (
    FailOnOption,
    MinSeverityOption,
    NoScanOption,
    VexOption,
    check_image,
)
from zerocve.cli._options import DbOption, IgnoreValidUntilOption, LockedOption, SpecArgument
from zerocve.errors import UsageError
from zerocve.oci.layout import DEFAULT_REF
from zerocve.outputs import OutputKind, check_file, check_layout_dir


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
    destination = output or tar
    assert destination is not None
    # Every path this command writes is checked before any is written (the image first,
    # before the work of building it): outputs never replace inputs (zerocve.outputs).
    if output is not None:
        check_layout_dir(output)
    else:
        check_file(destination, OutputKind.OCI_ARCHIVE)
    given = settings(db_path=db_path, ignore_valid_until=ignore_valid_until or None)
    lock_path = api.default_lock_path(spec_path)
    # A receipt answers the next no-change run of this very command (zerocve.receipt): only
    # for a layout, and with the caches.
    facts = (BuildFacts.start(spec_path, lock_path) if output is not None and not no_cache
             else None)
    spec = api.load_spec(spec_path)
    if facts is not None:
        facts.spec_loaded(spec, given)
    # Read once, by the lock or the gate, if at all; kept for the gate only when it will scan
    # (a full Debian index is some 50 MB of text: let it go before the build otherwise).
    indices = (api.Indices(settings=given) if not no_scan and given.db_path.exists()
               else None)
    lock = api.lock_for_build(spec, lock_path, given, locked=locked, indices=indices,
                              record=not no_cache)
    if facts is not None:
        facts.lock_chosen(lock, lock_path, given)
    built = api.build(spec, lock, given, use_cache=not no_cache, where=str(lock_path))
    sbom_paths = list(api.sbom_paths(built, destination).values())
    for path in sbom_paths:
        check_file(path, OutputKind.SPDX)
    if facts is not None:
        facts.writing([destination, *sbom_paths])
    if output is not None:
        target = api.write_layout(built, output, tag)
    else:
        target = api.write_archive(built, destination, tag)
    sboms = api.write_sboms(built, lock, target, given)
    if facts is not None:
        facts.scanning(no_scan, given)
    if not no_scan:
        check_image(target, given, action="build", require_db=False, fail_on=fail_on,
                    min_severity=min_severity, vex=vex_files or (), lock=lock, indices=indices,
                    spec=spec)
    # Only after the verdict: a build the gate rejects never printed a digest to act on.
    given.reporter.note(summary(built, target) + "; SBOM " + ", ".join(str(p) for p in sboms))
    # Plain text: rich (a tenth of a cold build's start-up) is not imported to print a line.
    typer.echo(built.digest)
    if facts is not None:
        facts.done(given)
