"""Write a file so that a crash or an error leaves either the old file or the new one, never
half of one: a temp file beside the target, fsynced, renamed over it, the directory fsynced.
And tell when there is nothing to write: the file holds those very bytes already."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from zerocve.errors import ZerocveError


def same_bytes(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link to one) holding exactly ``data``."""
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return False
            return f.read(len(data) + 1) == data
    except OSError:
        return False


def write_atomic(
    path: Path, data: bytes | Iterable[bytes], *, error: type[ZerocveError],
    what: str = "cannot write", sync: bool = True,
) -> None:
    """Replace ``path`` with ``data`` (bytes, or pieces of them: a large file need not be
    held whole); an OSError becomes ``error("PATH: WHAT: reason")``. ``sync=False`` leaves
    out the fsyncs, for a cache entry that proves itself when read (a seal over its bytes):
    one a crash tore is a miss, not a lie."""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise error(f"{path}: {what}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in [data] if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException as e:
        Path(temp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise error(f"{path}: {what}: {e.strerror}") from e
        raise
    if not sync:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)  # the rename itself must survive a crash too
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
