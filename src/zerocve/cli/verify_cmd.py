"""`zerocve verify`: check an image's signatures and attestations, and optionally rebuild it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from zerocve.cli._app import app, console, reporter
from zerocve.cli._options import IgnoreValidUntilOption
from zerocve.errors import VerificationError, ZerocveError
from zerocve.lock import default_lock_path
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.settings import Settings
from zerocve.sign import Check, Report, load_public_key, verify
from zerocve.sign.provenance import build_inputs
from zerocve.sign.statement import SLSA_PROVENANCE


class VerifyOutput(StrEnum):
    TABLE = "table"
    JSON = "json"


EPILOG = """\
[bold]Examples[/]
  zerocve verify 127.0.0.1:5000/app:1.2 --key cosign.pub
  zerocve verify registry.example/team/app:1.2 --key cosign.pub -o json
  zerocve verify registry.example/team/app:1.2 --key cosign.pub --rebuild

Checked: each digest of the image (an index and each platform manifest) carries a signature
by the key over exactly that digest and repository; every attestation attached to it is a
DSSE envelope signed by the key whose in-toto statement names that digest. With --rebuild,
the spec and lock recorded in the provenance are rebuilt here (from the same .debs, checked
against the lock) and the digest must come out identical.

[bold]Exit codes[/]: 0 every check holds; 1 a check fails (the table says which);
2 usage error; 3 key or registry failure.
"""


def _rebuild(report: Report, ignore_valid_until: bool) -> Check:
    from zerocve import api

    top = report.digest
    provenances = [a for a in report.attested
                   if a.digest == top and a.statement.predicate_type == SLSA_PROVENANCE]
    inputs = build_inputs(dict(provenances[0].statement.predicate)) if provenances else {}
    if set(inputs) != {"spec", "lock"}:
        return Check(top, None, "rebuild", False,
                     "no verified provenance with the spec and lock to rebuild from")
    (spec_name, spec), (_, lock) = inputs["spec"], inputs["lock"]
    with tempfile.TemporaryDirectory(prefix="zerocve-rebuild-") as scratch:
        spec_path = Path(scratch) / Path(spec_name).name
        spec_path.write_bytes(spec)
        default_lock_path(spec_path).write_bytes(lock)
        try:
            given = Settings.from_env(reporter=reporter(), ignore_valid_until=ignore_valid_until)
            spec_model = api.load_spec(spec_path)
            lock_path = default_lock_path(spec_path)
            locked = api.lock_for_build(spec_model, lock_path, given, locked=True)
            built = api.build(spec_model, locked, given, use_cache=False, where=str(lock_path))
        except ZerocveError as e:
            return Check(top, None, "rebuild", False, f"rebuild failed: {e.diagnostics()}")
    if built.digest != top:
        return Check(top, None, "rebuild", False, f"rebuilt {built.digest}, not this digest")
    return Check(top, None, "rebuild", True, "rebuilt from the lock: identical digest")


def _table(report: Report) -> Table:
    table = Table(title=report.reference, title_justify="left")
    for column in ("digest", "platform", "check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(check.digest[:19], check.platform or "", check.kind,
                      "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    return table


@app.command("verify", epilog=EPILOG)
def verify_command(
    target: Annotated[str, typer.Argument(metavar="REGISTRY/REPO[:TAG][@DIGEST]",
                                          show_default=False)],
    key: Annotated[Path, typer.Option("--key", metavar="PUB", help="The public key (PEM).",
                                      show_default=False)],
    output: Annotated[
        VerifyOutput, typer.Option("--output", "-o", help="Report format.",
                                   case_sensitive=False),
    ] = VerifyOutput.TABLE,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild from the attested lock and compare.")
    ] = False,
    ignore_valid_until: IgnoreValidUntilOption = False,
) -> None:
    """Verify an image's signatures and attestations with a public key."""
    ref = parse_reference(target)
    public = load_public_key(key)
    with RegistryClient(ref.api_host) as client:
        report = verify(client, ref, public)
    if rebuild:
        report = replace(report, checks=(*report.checks,
                                         _rebuild(report, ignore_valid_until)))
    if output is VerifyOutput.JSON:
        document = {
            "reference": report.reference, "ok": report.ok,
            "checks": [asdict(check) for check in report.checks],
            "attested": [{"digest": a.digest, "predicateType": a.statement.predicate_type}
                         for a in report.attested],
        }
        console.print_json(json.dumps(document))
    else:
        console.print(_table(report))
    failed = [check for check in report.checks if not check.ok]
    if failed:
        first = failed[0]
        raise VerificationError(
            f"{report.reference}: {len(failed)} of {len(report.checks)} checks fail; first: "
            f"{first.kind} of {first.digest[:19]}: {first.detail}"
        )
