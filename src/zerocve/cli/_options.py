"""Options several commands share, defined once so they read and behave the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SpecArgument = Annotated[
    Path, typer.Argument(metavar="IMAGE.yaml", help="The image spec.", show_default=False)
]
LockedOption = Annotated[
    bool,
    typer.Option("--locked", help="Fail unless the lock file exists and matches the spec."),
]
IgnoreValidUntilOption = Annotated[
    bool,
    typer.Option(
        "--ignore-valid-until",
        help="Accept Release files past their Valid-Until date (e.g. snapshot archives) or "
        "dated in the future.",
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        metavar="PATH",
        dir_okay=False,
        help="Write the output here (atomically) instead of stdout.",
        show_default=False,
    ),
]
PlatformOption = Annotated[
    str | None,
    typer.Option(
        "--platform",
        metavar="OS/ARCH",
        help="Which image of a multi-platform index to read (default linux/amd64).",
        show_default=False,
    ),
]
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="PATH",
        help="Advisory DB (default: $ZEROCVE_DB or the user cache dir).",
        show_default=False,
        # Opening it is zerocve's job: an unreadable DB is one line and exit 3, not click's
        # three-line usage error.
        readable=False,
    ),
]
