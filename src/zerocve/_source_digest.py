"""A digest of source files, for cache keys that must change whenever the code that made an
entry changes (the build cache, the parsed-index cache, kept inventories and verified-lock
records): a stale entry is then never found, so it can never be trusted by code that would
have made it differently."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

from zerocve import __version__

PACKAGE_ROOT = Path(__file__).resolve().parent  # src/zerocve


def source_digest(root: Path, files: Iterable[Path], salt: str = "") -> str:
    """SHA256 over ``salt`` and each file's path (relative to ``root``) and bytes, in the
    order given."""
    digest = hashlib.sha256(salt.encode() + b"\0")
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_files(root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every module of the package at ``root``, sorted."""
    return sorted(root.rglob("*.py"))


@functools.cache
def package_digest(root: Path = PACKAGE_ROOT) -> str:
    """SHA256 over zerocve's version and every module's path and bytes: a superset of the
    code behind any one cache entry, read and hashed in milliseconds. An upgrade that touches
    any module costs each cache one miss, never a wrong entry."""
    return source_digest(root, package_files(root), salt=__version__)


__all__ = ["PACKAGE_ROOT", "package_digest", "package_files", "source_digest"]
