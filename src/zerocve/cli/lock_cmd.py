"""`zerocve lock`: resolve a spec's packages and write ``image.lock.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerocve import api
from zerocve.cli._app import app, settings
from zerocve.cli._options import IgnoreValidUntilOption, SpecArgument
from zerocve.lock import Lock, write_lock
from zerocve.outputs import OutputKind, check_file


def summary(lock: Lock, path: Path) -> str:
    """One line: what was locked, per architecture."""
    parts = []
    for arch, locked in lock.archs.items():
        size = sum(p.size for p in locked.packages) / 1e6
        parts.append(f"{arch}: {len(locked.packages)} packages, {size:.1f} MB of .debs")
    return f"{path}: " + "; ".join(parts)


EPILOG = """\
[bold]Examples[/]
  zerocve lock image.yaml                     writes image.lock.json beside it
  zerocve lock image.yaml -o locks/app.json
  SOURCE_DATE_EPOCH=1700000000 zerocve lock image.yaml
  zerocve lock snapshot.yaml --ignore-valid-until   (archives frozen in time)
"""


@app.command(
    "lock",
    epilog=EPILOG,
    help=(
        "Resolve the spec's packages and write the lock file.\n\n"
        "For each architecture in the spec: fetch and verify the repositories' indices (the "
        "host's apt sources when the spec names none), take the dependency closure of "
        "contents.packages, leaving out contents.exclude, and record every package (version, "
        "source, suite, file, size, SHA256) with the digests of the indices searched. "
        "[bold]zerocve build[/] uses the lock while it matches the spec. The file is replaced "
        "atomically, and the same indices always give the same bytes. SOURCE_DATE_EPOCH, if "
        "set, is recorded; otherwise the newest Release date of those indices."
    ),
)
def lock(
    spec_path: SpecArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write the lock (default: beside the spec, image.yaml → "
            "image.lock.json).",
            show_default=False,
        ),
    ] = None,
    ignore_valid_until: IgnoreValidUntilOption = False,
    allow_downgrade: Annotated[
        bool,
        typer.Option(
            "--allow-downgrade",
            help="Let the new lock hold a package at a lower version than the lock it "
            "replaces (refused otherwise: a mirror serving an older archive must not undo a "
            "fix unnoticed).",
        ),
    ] = False,
) -> None:
    spec = api.load_spec(spec_path)
    target = output or api.default_lock_path(spec_path)
    check_file(target, OutputKind.LOCK)  # before resolving (write_lock checks again)
    previous = api.read_lock(target) if target.exists() and not allow_downgrade else None
    given = settings(ignore_valid_until=ignore_valid_until or None)
    # Recorded as verified: the build that follows need not resolve it again.
    result = api.lock(spec, given, previous=previous, allow_downgrade=allow_downgrade,
                      record=True)
    write_lock(result, target)
    # Plain text: rich (a tenth of this command's start-up) is not imported to print a line.
    typer.echo(summary(result, target))
