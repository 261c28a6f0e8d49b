"""``image.lock.json``: the resolved package set of an image spec, per architecture.

Shaped after apko's lock file: what was resolved (every package's name, version, architecture,
source, repository, suite, file, size and SHA256) and from what (the digest of each index and
of the signed Release it came from), plus the spec digest it is fresh for and the
SOURCE_DATE_EPOCH a build clamps times to::

    {
      "version": 1,
      "spec": "sha256:…",                      # ImageSpec.resolution_digest()
      "source_date_epoch": 1730419200,
      "archs": {
        "amd64": {
          "indices": [{"uri", "suite", "component", "architecture", "path", "sha256",
                       "release_sha256"}, …],
          "packages": [{"name", "version", "architecture", "source", "source_version", "uri",
                        "suite", "component", "filename", "size", "sha256"}, …]
        }
      }
    }

The same indices and spec always give the same bytes: packages sorted by name then
architecture, indices in the order the spec lists repositories, keys in the order above.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zerocve._atomic import write_atomic
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.repo import PackageIndex
from zerocve.debian.resolve import parse_request, resolve
from zerocve.errors import LockError
from zerocve.safe_load import LoadError, load_json
from zerocve.spec import ImageSpec, RepositorySpec, field_location

LOCK_VERSION: Literal[1] = 1
_SHA256 = r"^[0-9a-f]{64}$"

FetchIndices = Callable[[list[RepositorySpec], str], list[PackageIndex]]
HostRepositories = Callable[[], list[RepositorySpec]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LockedIndex(_Model):
    """One Packages index the resolution searched."""

    uri: str
    suite: str
    component: str
    architecture: str
    path: str  # below dists/<suite>/, e.g. "main/binary-amd64/Packages.xz"
    sha256: str = Field(pattern=_SHA256)
    release_sha256: str = Field(pattern=_SHA256)

    @classmethod
    def of(cls, index: PackageIndex) -> LockedIndex:
        o = index.origin
        return cls(
            uri=o.uri,
            suite=o.suite,
            component=o.component,
            architecture=o.architecture,
            path=index.path,
            sha256=index.sha256,
            release_sha256=index.release_sha256,
        )


class LockedPackage(_Model):
    """One package of the image, and where its ``.deb`` is."""

    name: str
    version: str
    architecture: str
    source: str
    source_version: str
    uri: str
    suite: str
    component: str
    filename: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=_SHA256)

    @classmethod
    def of(cls, package: BinaryPackage) -> LockedPackage:
        o = package.origin
        return cls(
            name=package.name,
            version=package.version,
            architecture=package.architecture,
            source=package.source,
            source_version=package.source_version,
            uri=o.uri,
            suite=o.suite,
            component=o.component,
            filename=package.filename,
            size=package.size,
            sha256=package.sha256,
        )

    def origin(self, arch: str) -> Origin:
        """The index this package was taken from, for the image architecture ``arch``."""
        return Origin(self.uri, self.suite, self.component, arch)


class ArchLock(_Model):
    indices: list[LockedIndex]
    packages: list[LockedPackage]


class Lock(_Model):
    version: Literal[1] = LOCK_VERSION
    spec: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    source_date_epoch: int = Field(ge=0)
    archs: dict[str, ArchLock] = Field(min_length=1)

    def is_fresh_for(self, spec: ImageSpec) -> bool:
        """Whether this lock was resolved from a spec that decides the same package set."""
        return self.spec == spec.resolution_digest() and set(self.archs) == set(spec.archs)


def _source_date_epoch(indices: list[PackageIndex], given: int | None) -> int:
    """``given`` (SOURCE_DATE_EPOCH, from ``Settings``), else the newest Release Date searched:
    the same indices give the same date, so a rebuild from the same lock is byte for byte
    identical."""
    if given is not None:
        return given
    dates = [index.date for index in indices if index.date is not None]
    if not dates:
        raise LockError(
            "no Release of the repositories has a Date to take SOURCE_DATE_EPOCH from; "
            "set SOURCE_DATE_EPOCH"
        )
    return int(max(dates).timestamp())


def lock_spec(
    spec: ImageSpec,
    fetch_indices: FetchIndices,
    host_repositories: HostRepositories,
    *,
    source_date_epoch: int | None = None,
) -> Lock:
    """Resolve ``spec`` for each of its architectures against the indices ``fetch_indices``
    returns for its repositories (the host's apt sources when the spec names none)."""
    repositories = spec.contents.repositories
    if repositories is None:
        repositories = host_repositories()
        if not repositories:
            raise LockError("the spec names no repositories and the host has no apt sources")
    # A request like "libc6:i386" needs that architecture's indices too (dpkg's foreign
    # architectures); its packages then sit in the image beside the native ones.
    foreign = {
        request.arch
        for request in map(parse_request, spec.contents.packages)
        if request.arch not in (None, "any", "native", "all")
    }
    archs: dict[str, ArchLock] = {}
    searched: list[PackageIndex] = []
    for arch in sorted(set(spec.archs)):
        indices = [
            index
            for index_arch in [arch, *sorted(foreign - {arch})]
            for index in fetch_indices(repositories, index_arch)
        ]
        searched += indices
        packages = resolve(
            spec.contents.packages,
            (p for index in indices for p in index.packages),
            arch,
            exclude=spec.contents.exclude,
        )
        archs[arch] = ArchLock(
            indices=[LockedIndex.of(index) for index in indices],
            packages=[LockedPackage.of(p) for p in packages],
        )
    return Lock(
        spec=spec.resolution_digest(),
        source_date_epoch=_source_date_epoch(searched, source_date_epoch),
        archs=archs,
    )


def load_or_resolve(
    spec: ImageSpec,
    lock_path: str | Path,
    fetch_indices: FetchIndices,
    host_repositories: HostRepositories,
    *,
    locked: bool = False,
) -> Lock:
    """The lock a build uses: the file at ``lock_path`` while it is fresh for ``spec``, else a
    new resolution (not written); under ``locked``, a missing or stale file is a LockError."""
    lock_path = Path(lock_path)
    if lock_path.exists():
        existing = read_lock(lock_path)
        if existing.is_fresh_for(spec):
            return existing
        if locked:
            raise LockError(
                f"{lock_path}: stale: the spec's contents or archs changed since it was "
                "written; run zerocve lock, or build without --locked"
            )
    elif locked:
        raise LockError(f"{lock_path}: no lock file to build from (--locked); run zerocve lock")
    return lock_spec(spec, fetch_indices, host_repositories)


def default_lock_path(spec_path: str | Path) -> Path:
    """``image.yaml`` → ``image.lock.json``, beside the spec."""
    path = Path(spec_path)
    return path.with_name(path.stem + ".lock.json")


def read_lock(path: str | Path) -> Lock:
    """Read and validate a lock file; every problem is a ``LockError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise LockError(f"{path}: cannot read lock file: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise LockError(f"{path}: lock file is not UTF-8 text") from e
    try:
        data = load_json(text)
    except LoadError as e:
        raise LockError(e.located(str(path))) from e
    if isinstance(data, dict) and data.get("version") not in (None, LOCK_VERSION):
        raise LockError(
            f"{path}: lock version {data['version']!r} is not supported (this zerocve reads "
            f"version {LOCK_VERSION}); run zerocve lock again"
        )
    try:
        return Lock.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise LockError(f"{path}: {field_location(first['loc'])}: {first['msg']}{more}") from e


def dumps_lock(lock: Lock) -> str:
    """The lock as written: 2-space indent, keys in model order, a trailing newline."""
    return json.dumps(lock.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def write_lock(lock: Lock, path: str | Path) -> None:
    """Write atomically: a temp file beside ``path``, fsynced, renamed over it. A crash leaves
    either the old lock or the new one, never half of one."""
    write_atomic(
        Path(path), dumps_lock(lock).encode(), error=LockError, what="cannot write lock file"
    )


__all__ = [
    "LOCK_VERSION",
    "ArchLock",
    "Lock",
    "LockedIndex",
    "LockedPackage",
    "default_lock_path",
    "dumps_lock",
    "load_or_resolve",
    "lock_spec",
    "read_lock",
    "write_lock",
]
