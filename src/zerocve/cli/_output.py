"""Writing a report or document where the user asked: stdout, or a file replaced atomically
(temp file beside it, fsynced, renamed), so a failed run never leaves half a report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zerocve._atomic import write_atomic
from zerocve.errors import ZerocveError

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


def write_output(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomic(path, text.encode(), error=ZerocveError)
