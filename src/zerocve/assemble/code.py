"""Which code decides an image's bytes, as a digest for the build cache's keys.

A cached image may be reused only by a builder that would make the same bytes. Listing the
modules that shape them by hand went stale (the embedded SBOM's modules were missed), and
deriving the list from the builder's import statements cost every no-change rebuild a fifth
of a second of parsing. So the key covers every module of the package: a superset of what
contributes bytes, read and hashed in milliseconds. An upgrade that touches any of them costs
one rebuild, never a wrong image.
"""

from __future__ import annotations

import functools
from pathlib import Path

from zerocve import __version__
from zerocve._source_digest import source_digest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/zerocve


def contributing_files(root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every module of the package at ``root``, sorted."""
    return sorted(root.rglob("*.py"))


@functools.cache
def code_digest(root: Path = PACKAGE_ROOT) -> str:
    """SHA256 over zerocve's version and every module's path and bytes."""
    return source_digest(root, contributing_files(root), salt=__version__)
