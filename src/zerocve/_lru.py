"""Size bounds for zerocve's caches: least recently used entries go first.

A cache entry's mtime is its last use: ``touch`` on every hit, and ``evict`` after every
store deletes the oldest entries until the cache is back under its bound (the entry just
stored is kept even when it alone is over it, so the caller can use it). Several processes
may evict at once: a file another one deleted first is simply gone.

Bounds come from the caller; ``limit_from_env`` reads ``ZEROCVE_<NAME>_CACHE_MAX`` (bytes,
or with a K, M or G suffix: ``2G``) beside ``ZEROCVE_CACHE_DIR``, where the caches live.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from zerocve.errors import UsageError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


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


def limit_from_env(name: str, default: int) -> int:
    """``ZEROCVE_<NAME>_CACHE_MAX`` in bytes (``default`` when unset)."""
    variable = f"ZEROCVE_{name.upper()}_CACHE_MAX"
    text = os.environ.get(variable, "").strip().upper()
    if not text:
        return default
    number, unit = (text[:-1], text[-1]) if text[-1] in _UNITS and text[-1] else (text, "")
    if not number.isdigit():
        raise UsageError(f"{variable}={text!r}: expected a size in bytes, e.g. 2G or 500M")
    return int(number) * _UNITS[unit]


__all__ = ["evict", "limit_from_env", "touch"]
