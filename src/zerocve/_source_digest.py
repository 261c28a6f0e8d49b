"""A digest of source files, for cache keys that must change whenever the code that made an
entry changes (the build cache, the parsed-index cache): a stale entry is then never found,
so it can never be trusted by code that would have made it differently."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def source_digest(root: Path, files: Iterable[Path], salt: str = "") -> str:
    """SHA256 over ``salt`` and each file's path (relative to ``root``) and bytes, in the
    order given."""
    digest = hashlib.sha256(salt.encode() + b"\0")
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


__all__ = ["source_digest"]
