"""`zerocve sign`: sign an image in a registry and attach its attestations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from zerocve.cli._app import app, console
from zerocve.cli._keys import PASSPHRASE_ENV, PassphraseEnvOption, private_key
from zerocve.errors import UsageError
from zerocve.lock import default_lock_path, read_lock
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.sign import BuildRecord, Outcome, sign_and_attest, sign_image

EPILOG = """\
[bold]Examples[/]
  zerocve sign 127.0.0.1:5000/app:1.2 --key cosign.key
  zerocve sign registry.example/team/app:1.2 --key cosign.key --spec app.yaml
  zerocve sign registry.example/team/app@sha256:... --key cosign.key --vex triage.vex.json

What is written, as cosign writes it: a signature of the image's digest (and of each
platform manifest of a multi-platform index) under the tag [cyan]sha256-<hex>.sig[/], and
in-toto attestations in DSSE envelopes under [cyan]sha256-<hex>.att[/]: the SPDX 2.3 and
CycloneDX 1.6 SBOMs, with --spec the SLSA v1 provenance (spec, lock, every .deb and Release
with its SHA256), with --vex each OpenVEX document. The SPDX SBOM is also pushed as an OCI
referrer of each image manifest. What the key has already signed is not signed again.
A skopeo/podman policy checks the signature with
[cyan]{"type": "sigstoreSigned", "keyPath": "cosign.pub", "signedIdentity":
{"type": "matchRepository"}}[/] and [cyan]use-sigstore-attachments: true[/] in registries.d.

[bold]Exit codes[/]: 0 signed (or already signed); 2 usage error; 3 key, registry or
attestation failure (a signature tag never points at a partial artifact).
"""


def build_record(spec: Path, lock: Path | None) -> BuildRecord:
    lock_path = lock or default_lock_path(spec)
    try:
        spec_bytes, lock_bytes = spec.read_bytes(), lock_path.read_bytes()
    except FileNotFoundError as e:
        raise UsageError(f"{e.filename}: no such file (the spec and lock of the image)") from e
    return BuildRecord(spec.name, spec_bytes, lock_path.name, lock_bytes, read_lock(lock_path))


def outcome_lines(reference: str, outcomes: list[Outcome]) -> list[str]:
    return [f"{reference}@{o.digest[:19]}: {o.what}: {'added' if o.added else 'already there'}"
            for o in outcomes]


@app.command("sign", epilog=EPILOG)
def sign(
    target: Annotated[str, typer.Argument(metavar="REGISTRY/REPO[:TAG][@DIGEST]",
                                          show_default=False)],
    key: Annotated[Path, typer.Option("--key", metavar="KEY", help="The private key.",
                                      show_default=False)],
    spec: Annotated[
        Path | None,
        typer.Option("--spec", metavar="IMAGE.yaml", help="The image's spec: attest its "
                     "provenance (with the lock beside it, or --lock).", show_default=False),
    ] = None,
    lock: Annotated[
        Path | None, typer.Option("--lock", metavar="FILE", help="The image's lock file.",
                                  show_default=False),
    ] = None,
    vex_files: Annotated[
        list[Path] | None,
        typer.Option("--vex", metavar="FILE", help="OpenVEX document to attest (repeatable).",
                     show_default=False),
    ] = None,
    no_attest: Annotated[
        bool, typer.Option("--no-attest", help="Sign only (e.g. an image zerocve did not "
                           "build, which has no dpkg database to take SBOMs from).")
    ] = False,
    passphrase_env: PassphraseEnvOption = PASSPHRASE_ENV,
) -> None:
    """Sign an image in a registry (cosign-compatible) and attach SBOM, provenance and VEX
    attestations."""
    ref = parse_reference(target)
    if lock is not None and spec is None:
        raise UsageError("sign: --lock goes with --spec (the provenance needs both)")
    if no_attest and (spec or vex_files):
        raise UsageError("sign: --no-attest attaches nothing; drop --spec and --vex")
    build = build_record(spec, lock) if spec is not None else None
    vex: dict[str | None, list[dict[str, Any]]] = {}
    if vex_files:
        # The scan's reader, so a bad VEX file is the same one line here as in a scan.
        from zerocve.vuln.vex import load_documents

        vex[None] = load_documents(vex_files)
    signing_key = private_key(key, passphrase_env)
    with RegistryClient(ref.api_host) as client:
        if no_attest:
            outcomes = sign_image(client, ref, ref.digest, signing_key)
        else:
            outcomes = sign_and_attest(client, ref, ref.digest, signing_key, build=build,
                                       vex=vex)
    for line in outcome_lines(ref.name, outcomes):
        console.print(line, highlight=False, soft_wrap=True)
