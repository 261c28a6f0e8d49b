"""Writing a report or document where the user asked: stdout, or a file replaced atomically
(temp file beside it, fsynced, renamed), so a failed run never leaves half a report."""

from __future__ import annotations

import sys
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve.errors import ZerocveError


def write_output(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomic(path, text.encode(), error=ZerocveError)
