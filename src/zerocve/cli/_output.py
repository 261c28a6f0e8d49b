"""Writing a report or document where the user asked: stdout, or a file replaced atomically
(temp file beside it, fsynced, renamed), so a failed run never leaves half a report."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from zerocve.errors import ZerocveError


def write_output(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise ZerocveError(f"{path}: cannot write: {e.strerror}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException as e:
        Path(temp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise ZerocveError(f"{path}: cannot write: {e.strerror}") from e
        raise
