"""`zerocve publish`: build (or take) an OCI layout and push it, tag last."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from zerocve import api
from zerocve.cli._app import app, console, settings
from zerocve.cli._gate import (
    FailOnOption,
    MinSeverityOption,
    NoScanOption,
    VexOption,
    check_image,
)
from zerocve.cli._keys import PASSPHRASE_ENV, PassphraseEnvOption, private_key
from zerocve.cli._options import DbOption, IgnoreValidUntilOption, LockedOption
from zerocve.cli.sign_cmd import outcome_lines
from zerocve.errors import UsageError
from zerocve.oci.layout import DEFAULT_REF
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.sign import BuildRecord, sign_and_attest
from zerocve.spec import ImageSpec
from zerocve.vuln.gate import FailOn
from zerocve.vuln.model import ScanResult

_TARGETS_HELP = "[IMAGE.YAML] REGISTRY/REPO[:TAG]"


EPILOG = """\
[bold]Examples[/]
  zerocve publish image.yaml registry.example/team/app:1.2
  zerocve publish --layout out/app registry.example/team/app:1.2
  zerocve publish image.yaml 127.0.0.1:5000/app:dev --no-scan
  zerocve publish image.yaml registry.example/team/app:1.2 --fail-on open --min-severity high
  zerocve publish image.yaml registry.example/team/app:1.2 --vex triage.vex.json
  zerocve publish image.yaml registry.example/team/app-debug:1.2 --mount-from team/app
  COSIGN_PASSWORD=... zerocve publish image.yaml registry.example/team/app:1.2 --sign cosign.key

[bold]Exit codes[/]: 0 pushed; 1 refused by the vulnerability gate (nothing pushed);
2 usage error; 3 build, registry or advisory DB failure (the tag is never moved);
4 internal error (a zerocve bug).
"""


@app.command(
    "publish",
    epilog=EPILOG,
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
    locked: LockedOption = False,
    ignore_valid_until: IgnoreValidUntilOption = False,
    fail_on: FailOnOption = FailOn.FIXED,
    min_severity: MinSeverityOption = None,
    vex_files: VexOption = None,
    db_path: DbOption = None,
    no_scan: NoScanOption = False,
    sign_key: Annotated[
        Path | None,
        typer.Option("--sign", metavar="KEY", help="Sign the pushed image with this private "
                     "key and attach its SBOM, provenance and VEX attestations (see `zerocve "
                     "sign`); what the key already signed is not signed again.",
                     show_default=False),
    ] = None,
    passphrase_env: PassphraseEnvOption = PASSPHRASE_ENV,
) -> None:
    if len(targets) == 1 and layout is None:
        raise UsageError(f"publish {targets[0]}: give an IMAGE.YAML to build, or --layout DIR")
    if len(targets) not in (1, 2):
        raise UsageError(f"publish: expected {_TARGETS_HELP}, got {len(targets)} arguments")
    ref = parse_reference(targets[-1])
    given = settings(db_path=db_path, ignore_valid_until=ignore_valid_until or None)
    # The key is opened before anything is built or pushed: a wrong passphrase costs nothing.
    signing_key = private_key(sign_key, passphrase_env) if sign_key is not None else None
    build: BuildRecord | None = None
    results: list[ScanResult] = []
    indices: api.Indices | None = None
    lock: api.Lock | None = None  # an existing layout has no lock to hold it to
    spec: ImageSpec | None = None  # nor repositories to ask what they offer
    with tempfile.TemporaryDirectory(prefix="zerocve-publish-") as scratch:
        if len(targets) == 2:
            spec_path = Path(targets[0])
            spec = api.load_spec(spec_path)
            indices = api.Indices(settings=given)  # read once, by the lock or the gate
            lock_path = api.default_lock_path(spec_path)
            lock = api.lock_for_build(spec, lock_path, given, locked=locked,
                                      indices=indices, record=True)
            built = api.build(spec, lock, given, where=str(lock_path))
            if signing_key is not None:
                build = BuildRecord.of(spec_path, lock)
            layout = api.write_layout(built, layout or Path(scratch) / "layout",
                                      ref.tag or DEFAULT_REF)
        assert layout is not None
        if not no_scan:
            results = check_image(layout, given, action="publish", require_db=True,
                                  fail_on=fail_on, min_severity=min_severity,
                                  vex=vex_files or (), lock=lock, indices=indices,
                                  spec=spec)
        published = api.publish(layout, ref, given, mount_from=mount_from,
                                insecure=insecure or None)
        if signing_key is not None:
            from zerocve.vuln.formats.openvex import triage

            vex = triage(results, build.lock.source_date_epoch if build else None)
            with RegistryClient(ref.api_host, insecure=insecure or None) as client:
                outcomes = sign_and_attest(client, ref, published.digest, signing_key,
                                           build=build, vex=vex)
            for line in outcome_lines(ref.name, outcomes):
                given.reporter.note(line)
    console.print(published.reference, highlight=False, soft_wrap=True)
