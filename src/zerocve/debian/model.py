"""Records shared across zerocve: a package as an index offers it, and as an image holds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


class PackageId(Protocol):
    """What names one installed package: what the lock, the index and the image agree on
    (``LockedPackage``, ``BinaryPackage`` and ``InstalledPackage`` all fit)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def architecture(self) -> str: ...


class PackageRecord(PackageId, Protocol):
    """A package with its source: what the build needs of a locked package."""

    @property
    def source(self) -> str: ...
    @property
    def source_version(self) -> str: ...


@dataclass(frozen=True)
class Origin:
    """Where an index came from: one (repository, suite, component, architecture)."""

    uri: str
    suite: str
    component: str
    architecture: str

    def __str__(self) -> str:
        return f"{self.suite} {self.component} {self.architecture}"


class BinaryPackage(NamedTuple):
    """One stanza of a ``Packages`` index, with the fields zerocve uses.

    Relationship fields are kept raw (``"libc6 (>= 2.34), libssl3 | libssl1.1"``); the
    resolver parses them. A named tuple, not a dataclass: a full index holds some 64,000 of
    them, which a tuple stores in a third of the memory and builds (from the parsed-index
    cache, ``zerocve.debian.index_cache``) several times faster.
    """

    name: str
    version: str
    architecture: str  # "amd64", "all", ...
    source: str  # source package name (the binary's own name when no Source field)
    source_version: str  # the source's version (the binary's when Source has none)
    filename: str  # pool path relative to the repository root
    size: int
    sha256: str
    origin: Origin
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    conflicts: str = ""
    breaks: str = ""
    multi_arch: str = "no"  # no | same | foreign | allowed
    essential: bool = False
    priority: str = "optional"
    installed_size: int = 0  # KiB, as the index says

    @property
    def key(self) -> str:
        """``name:arch`` as dpkg names a package instance."""
        return f"{self.name}:{self.architecture}"


@dataclass(frozen=True)
class InstalledPackage:
    """A package found in an image's dpkg database (or an SBOM): what scanners and SBOMs need."""

    name: str
    version: str
    architecture: str
    source: str
    source_version: str
    licenses: tuple[str, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # Extra context, e.g. which layer or file declared the package.
    location: str = ""
