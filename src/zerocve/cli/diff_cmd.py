"""`zerocve diff`: the package and vulnerability difference between two images."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from zerocve import api
from zerocve.cli._app import app, settings
from zerocve.cli._options import DbOption, FileOption, PlatformOption
from zerocve.cli._output import write_output
from zerocve.fleet.diff import ImageDiff, diff_images, render_json, render_table
from zerocve.outputs import OutputKind


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


EPILOG = """\
[bold]Targets[/] are read as `zerocve scan` reads them: an OCI layout ([cyan]oci:DIR[/]), an
archive ([cyan]oci-archive:FILE[/]), a registry image ([cyan]docker://HOST/REPO:TAG[/] or
[cyan]HOST/REPO@sha256:…[/]), a root filesystem or an SBOM.

[bold]Examples[/]
  zerocve diff 127.0.0.1:5000/team/python:latest 127.0.0.1:5000/team/python-staging:stage-1
  zerocve diff out/python-old out/python -o json
  zerocve diff old.oci.tar out/python --packages-only

[bold]Exit codes[/]: 0 compared (with or without a difference); 2 usage error; 3 an image
or the advisory DB could not be read.
"""


@app.command("diff", epilog=EPILOG)
def diff(
    before: Annotated[str, typer.Argument(metavar="REF1", show_default=False)],
    after: Annotated[str, typer.Argument(metavar="REF2", show_default=False)],
    output: Annotated[
        DiffFormat, typer.Option("--output", "-o", help="Format.", case_sensitive=False)
    ] = DiffFormat.TABLE,
    packages_only: Annotated[
        bool, typer.Option("--packages-only", help="Compare packages; no advisory DB needed.")
    ] = False,
    file: FileOption = None,
    db_path: DbOption = None,
    platform: PlatformOption = None,
) -> None:
    """Show what changed from REF1 to REF2: packages added, removed or moved to another
    version, and vulnerabilities fixed or introduced (from the local advisory DB)."""
    given = settings(db_path=db_path)
    result: ImageDiff
    if packages_only:
        old, new = (api.inventory(ref, given, platform=platform) for ref in (before, after))
        result = diff_images(before, after, (old.packages, new.packages), None)
    else:
        first, second = (
            api.scan(ref, given, platforms=[platform])[0] for ref in (before, after)
        )
        result = diff_images(
            before, after,
            (first.inventory.packages, second.inventory.packages),
            (first.findings, second.findings),
        )
    if output is DiffFormat.JSON:
        write_output(render_json(result), file, OutputKind.DIFF_JSON)
    else:
        write_output(render_table(result), file, OutputKind.DIFF_TABLE)
