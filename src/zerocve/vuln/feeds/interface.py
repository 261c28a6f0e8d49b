"""What every advisory feed produces: normalized records the DB stores as they are.

A feed reads one local input (a file or directory; URLs are downloaded first by
``feeds.fetch``) and yields ``Advisory`` records. It raises ``AdvisoryError`` with one line
naming the input and the record when the input is malformed.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

from zerocve.debian.version import parse
from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.vuln.model import Cvss


def check_version(version: str | None, where: str) -> None:
    """AdvisoryError naming ``where`` unless ``version`` is None, "0" or a dpkg version: a
    junk version stored in the DB would only fail later, in the middle of a scan."""
    if version is None or version == "0":
        return
    try:
        parse(version)
    except ValueError as e:
        raise AdvisoryError(f"{where}: {e}") from None


def read_input(path: Path) -> bytes:
    """The bytes of one feed file; AdvisoryError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise AdvisoryError(f"{path}: cannot read: {e.strerror}") from e


# A NamedTuple, immutable as a frozen dataclass is, but made five times faster: a scan of
# 1,500 packages reads some 18,000 of these.
class Affected(NamedTuple):
    """One affected range of one source package in one release, as one feed says.

    ``fixed`` None means no fix in that release; "0" (tracker only) means the release was
    never affected. ``status`` is the tracker's ("resolved", "open", "undetermined") and
    empty for OSV. ``repositories`` maps suite → version as the tracker saw the archive.
    """

    release: str  # codename: "bookworm"
    package: str  # source package
    introduced: str | None = None
    fixed: str | None = None
    status: str = ""
    urgency: str = ""
    nodsa: str = ""
    nodsa_reason: str = ""
    repositories: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Advisory:
    """One record of a feed: a vulnerability id and what it affects."""

    id: str  # "CVE-2024-1234", "DSA-5418-1"
    description: str = ""
    cvss: tuple[Cvss, ...] = ()
    aliases: tuple[str, ...] = ()  # other ids for the same issue (DSA ↔ CVE, GHSA, ...)
    affected: tuple[Affected, ...] = ()


class Feed(ABC):
    """A source of advisories. ``name`` is what findings list in ``sources``."""

    name: ClassVar[str]

    def fingerprint(self, source: Path) -> str:
        """A content hash of ``source`` (a file, or every file under a directory with its
        relative path): equal fingerprints mean there is nothing to re-import."""
        digest = hashlib.sha256()
        try:
            if source.is_dir():
                files = sorted(p for p in source.rglob("*") if p.is_file())
            else:
                files = [source]
            for path in files:
                if path != source:
                    digest.update(str(path.relative_to(source)).encode() + b"\0")
                with path.open("rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
        except OSError as e:
            raise AdvisoryError(f"{source}: cannot read {self.name} feed: {e.strerror}") from e
        return "sha256:" + digest.hexdigest()

    @abstractmethod
    def records(self, source: Path, reporter: Reporter = NULL_REPORTER) -> Iterator[Advisory]:
        """Every advisory in ``source``; AdvisoryError on malformed input."""
