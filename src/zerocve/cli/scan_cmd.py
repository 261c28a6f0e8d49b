"""`zerocve scan`: report known vulnerabilities in an image, a root filesystem or an SBOM."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from zerocve import api
from zerocve.cli import _app
from zerocve.cli._app import app, settings
from zerocve.cli._gate import FailOnOption, MinSeverityOption, VexOption, threshold
from zerocve.cli._options import DbOption, FileOption, PlatformOption
from zerocve.cli._output import write_output
from zerocve.errors import GateError, UsageError
from zerocve.outputs import OutputKind, check_file
from zerocve.vuln.formats import OutputFormat, RenderOptions, renderer

_KINDS = {
    OutputFormat.TABLE: OutputKind.TABLE,
    OutputFormat.JSON: OutputKind.SCAN_JSON,
    OutputFormat.SARIF: OutputKind.SARIF,
    OutputFormat.CYCLONEDX: OutputKind.CYCLONEDX,
    OutputFormat.OPENVEX: OutputKind.OPENVEX,
}


class SeveritySourceChoice(StrEnum):
    DEBIAN = "debian"
    CVSS = "cvss"


EPILOG = """\
[bold]Targets[/]: an OCI layout ([cyan]oci:DIR[:TAG][/]), an OCI archive
([cyan]oci-archive:FILE[/]), a registry image ([cyan]docker://HOST/REPO:TAG[/], the
only kind that uses the network), a root filesystem ([cyan]dir:DIR[/]) or a
CycloneDX/SPDX JSON SBOM ([cyan]sbom:FILE[/]). Without a prefix, the kind is
recognised from the path.

[bold]Examples[/]
  zerocve scan out/python
  zerocve scan out/python --fail-on fixed
  zerocve scan dir:/srv/rootfs --fail-on open --min-severity high
  zerocve scan dir:/srv/rootfs --distro debian:12   (os-release missing or wrong)
  zerocve scan docker://127.0.0.1:5000/team/app:1.2 -o sarif --file app.sarif
  zerocve scan image.oci.tar -o cyclonedx --file bom.cdx.json
  zerocve scan out/python --vex triage.vex.json --show-suppressed
  zerocve scan out/python -o openvex --file python.vex.json

[bold]Gate[/] (--fail-on; findings suppressed by VEX never count)
  fixed  state fixed: the repositories have the fix, a rebuild removes it
  open   fixed, fix-unavailable (fixed upstream, not in the repositories
         yet) and open (no fix yet)
  any    every finding: also no-dsa, ignored, postponed, end-of-life and
         unimportant
  --min-severity keeps findings at or above it; one not yet rated counts.

[bold]Exit codes[/]
  0  nothing over the gate (always, without --fail-on)
  1  findings over the gate
  2  usage error: bad option, unknown target, missing file
  3  operational failure: no advisory DB, unreadable target or VEX
     document, no dpkg database, a status file dpkg would refuse, a
     release the advisory DB has no data for (see --distro)
  4  internal error (a zerocve bug): rerun with -v and report it
"""


@app.command("scan", epilog=EPILOG)
def scan(
    target: Annotated[str, typer.Argument(metavar="TARGET", show_default=False)],
    output: Annotated[
        OutputFormat,
        typer.Option("--output", "-o", help="Report format.", case_sensitive=False),
    ] = OutputFormat.TABLE,
    file: FileOption = None,
    fail_on: FailOnOption = None,
    min_severity: MinSeverityOption = None,
    vex_files: VexOption = None,
    severity_source: Annotated[
        SeveritySourceChoice,
        typer.Option(
            "--severity-source",
            help="Rate by Debian's urgency (CVSS when Debian has none) or by CVSS first.",
            case_sensitive=False,
        ),
    ] = SeveritySourceChoice.DEBIAN,
    db_path: DbOption = None,
    platform: PlatformOption = None,
    show_suppressed: Annotated[
        bool,
        typer.Option("--show-suppressed", help="Table: also list findings suppressed by VEX."),
    ] = False,
    distro: Annotated[
        str | None,
        typer.Option(
            "--distro",
            metavar="debian:RELEASE",
            help="Match against this release (debian:12, debian:bookworm) instead of the one "
            "the target's os-release names; a release the DB has no data for is an error.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Scan an image, a root filesystem or an SBOM for known vulnerabilities.

    Packages come from the dpkg database (var/lib/dpkg/status and status.d/), advisories
    from the local DB (zerocve db update); the scan itself never touches the network.
    """
    if min_severity is not None and fail_on is None:
        raise UsageError("--min-severity applies to the gate: give --fail-on as well")
    if file is not None:
        check_file(file, _KINDS[output])  # before the scan's work (checked again on write)
    given = settings(db_path=db_path)
    (result,) = api.scan(
        target,
        given,
        vex=vex_files or (),
        platforms=[platform],
        severity_source="cvss" if severity_source is SeveritySourceChoice.CVSS else "debian",
        distro=distro,
    )
    # rich (the consoles, escape) only when it prints: JSON into a pipe needs none of it.
    for warning in result.inventory.warnings:
        from rich.markup import escape

        _app.console_err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    # The table alone is drawn for a terminal: its width and colours.
    to_terminal = output is OutputFormat.TABLE and file is None and _app.console.is_terminal
    options = RenderOptions(
        show_suppressed=show_suppressed,
        width=_app.console.width if to_terminal else None,
        color=to_terminal,
        timestamp=given.now(),
    )
    write_output(renderer(output)(result, options), file, _KINDS[output])
    if file is not None:
        _app.console_err.print(f"wrote {output.value} report to {file}", highlight=False,
                               markup=False)
    if fail_on is not None:
        verdict = api.check_gate([result], api.GatePolicy(fail_on, threshold(min_severity)))
        if not verdict.passed:
            raise GateError(f"{result.inventory.target}: {verdict.reason}")
