"""Size bounds for zerocve's caches: least recently used entries go first.

A cache entry's mtime is its last use: ``touch`` on every hit, and ``evict`` after every
store deletes the oldest entries until the cache is back under its bound (the entry just
stored is kept even when it alone is over it, so the caller can use it). Several processes
may evict at once: a file another one deleted first is simply gone.

Bounds come from the caller (``zerocve.settings.CacheBounds``, read once from
``ZEROCVE_<NAME>_CACHE_MAX``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def touch(path: Path) -> None:
    """Mark ``path`` as just used."""
    with contextlib.suppress(OSError):
        os.utime(path)


def evict(directory: Path, max_bytes: int, *, keep: Path | None = None) -> int:
    """Delete the least recently used files directly in ``directory`` until their sizes add
    up to at most ``max_bytes``; returns the bytes freed."""
    entries = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as listing:
        for item in listing:
            with contextlib.suppress(FileNotFoundError):
                if item.is_file(follow_symlinks=False):
                    st = item.stat(follow_symlinks=False)
                    entries.append((st.st_mtime_ns, st.st_size, Path(item.path)))
    total = sum(size for _, size, _ in entries)
    freed = 0
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        freed += size
    return freed


__all__ = ["evict", "touch"]
