"""Writing a report or document where the user asked: stdout, or a file replaced atomically
(temp file beside it, fsynced, renamed), so a failed run never leaves half a report; only a
previous output of the same kind is ever replaced (``zerocve.outputs``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import overload

from zerocve.errors import ZerocveError
from zerocve.outputs import OutputKind, write_file


@overload
def write_output(text: str, path: None, kind: None = None) -> None: ...
@overload
def write_output(text: str, path: Path | None, kind: OutputKind) -> None: ...


def write_output(text: str, path: Path | None, kind: OutputKind | None = None) -> None:
    """``text`` to stdout, or to ``path``, which must be new or a previous ``kind`` output."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    assert kind is not None  # the overloads make every caller with a path name its kind
    write_file(path, text.encode(), kind, error=ZerocveError)
