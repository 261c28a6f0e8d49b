"""Write a file so that a crash or an error leaves either the old file or the new one, never
half of one: a temp file beside the target, fsynced, renamed over it, the directory fsynced."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from zerocve.errors import ZerocveError


def write_atomic(
    path: Path, data: bytes | Iterable[bytes], *, error: type[ZerocveError],
    what: str = "cannot write",
) -> None:
    """Replace ``path`` with ``data`` (bytes, or pieces of them: a large file need not be
    held whole); an OSError becomes ``error("PATH: WHAT: reason")``."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise error(f"{path}: {what}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in [data] if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException as e:
        Path(temp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise error(f"{path}: {what}: {e.strerror}") from e
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)  # the rename itself must survive a crash too
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
