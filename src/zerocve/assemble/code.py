"""Which code decides an image's bytes, as a digest for the build cache's keys.

A cached image may be reused only by a builder that would make the same bytes. Listing the
modules that shape them by hand went stale (the embedded SBOM's modules were missed), and
deriving the list from the builder's import statements cost every no-change rebuild a fifth
of a second of parsing. So the key covers every module of the package
(``zerocve._source_digest.package_digest``, which other caches' keys use too): a superset of
what contributes bytes, read and hashed in milliseconds. An upgrade that touches any of them
costs one rebuild, never a wrong image.
"""

from __future__ import annotations

from zerocve._source_digest import PACKAGE_ROOT
from zerocve._source_digest import package_digest as code_digest
from zerocve._source_digest import package_files as contributing_files

__all__ = ["PACKAGE_ROOT", "code_digest", "contributing_files"]
