"""`zerocve publish`: build (or take) an OCI layout and push it, tag last."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from zerocve.build.image import write_layout
from zerocve.cli._app import app, console, reporter
from zerocve.cli._gate import (
    DbOption,
    FailOnOption,
    MinSeverityOption,
    NoScanOption,
    VexOption,
    gate_image,
)
from zerocve.cli.build_cmd import build_spec
from zerocve.errors import UsageError
from zerocve.oci.layout import DEFAULT_REF
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.progress import Reporter
from zerocve.publish import push_layout
from zerocve.vuln.gate import FailOn

_TARGETS_HELP = "[IMAGE.YAML] REGISTRY/REPO[:TAG]"


def build_layout(
    spec: Path,
    out_dir: Path,
    *,
    tag: str,
    locked: bool,
    ignore_valid_until: bool,
    reporter: Reporter,
) -> Path:
    """Build ``spec`` into an OCI layout at ``out_dir`` exactly as ``zerocve build -o`` does."""
    built, _ = build_spec(
        spec, locked=locked, ignore_valid_until=ignore_valid_until, reporter=reporter
    )
    return write_layout(built, out_dir, tag)


@app.command(
    "publish",
    help=(
        "Push an image to a registry with the OCI distribution API: every blob (skipped when "
        "present, mounted with --mount-from, chunked when large), then the manifests by digest, "
        "and the tag last, so it never points at a partial image. Prints REF@DIGEST.\n\n"
        f"Arguments: {_TARGETS_HELP}. With IMAGE.YAML the image is built as `zerocve build` "
        "would (into --layout DIR if given); with --layout DIR alone, that existing OCI layout "
        "is pushed. Credentials come from the docker/podman auth files.\n\n"
        "Before anything is sent the image is scanned against the local advisory DB, and "
        "publishing is refused (exit 1) while it has a fixable vulnerability (--fail-on fixed, "
        "the default; open or any are stricter). Without a DB publishing fails unless --no-scan."
    ),
)
def publish(
    targets: Annotated[list[str], typer.Argument(metavar=_TARGETS_HELP, show_default=False)],
    layout: Annotated[
        Path | None,
        typer.Option("--layout", help="OCI layout directory to push (or to build into)."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Plain http (loopback registries use it anyway).")
    ] = False,
    mount_from: Annotated[
        str | None,
        typer.Option(
            "--mount-from", metavar="REPO", help="Repository on the same registry to mount from."
        ),
    ] = None,
    locked: Annotated[
        bool, typer.Option("--locked", help="Fail if the lock does not match the spec.")
    ] = False,
    ignore_valid_until: Annotated[
        bool,
        typer.Option("--ignore-valid-until", help="Accept repository metadata past Valid-Until."),
    ] = False,
    fail_on: FailOnOption = FailOn.FIXED,
    min_severity: MinSeverityOption = None,
    vex_files: VexOption = None,
    db_path: DbOption = None,
    no_scan: NoScanOption = False,
) -> None:
    if len(targets) == 1 and layout is None:
        raise UsageError(f"publish {targets[0]}: give an IMAGE.YAML to build, or --layout DIR")
    if len(targets) not in (1, 2):
        raise UsageError(f"publish: expected {_TARGETS_HELP}, got {len(targets)} arguments")
    ref = parse_reference(targets[-1])
    progress = reporter()

    with tempfile.TemporaryDirectory(prefix="zerocve-publish-") as scratch:
        if len(targets) == 2:
            layout = build_layout(
                Path(targets[0]),
                layout or Path(scratch) / "layout",
                tag=ref.tag or DEFAULT_REF,
                locked=locked,
                ignore_valid_until=ignore_valid_until,
                reporter=progress,
            )
        assert layout is not None
        if not no_scan:
            gate_image(layout, action="publish", fail_on=fail_on, min_severity=min_severity,
                       vex_files=vex_files, db_path=db_path, require_db=True, reporter=progress)
        with RegistryClient(ref.api_host, insecure=insecure or None) as client:
            digest = push_layout(layout, ref, client, reporter=progress, from_repo=mount_from)
    console.print(str(ref.with_digest(digest)), highlight=False, soft_wrap=True)
