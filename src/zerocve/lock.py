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

A lock is a record, never a source of trust: ``verify_lock`` checks one against the spec before
any of its bytes are installed. The repositories (uri, suite, keyring) come from the spec (or
the host's apt sources), each pinned index must be listed in a Release verified against the
spec's keyring, and resolving the spec again over those indices must give exactly the lock's
packages, field for field. An edited uri, file, hash, version or an added package is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.releases import DebianRelease
from zerocve.debian.repo import IndexPin, PackageIndex
from zerocve.debian.resolve import parse_request, resolve_in
from zerocve.debian.version import compare
from zerocve.errors import LockError, RepositoryError
from zerocve.outputs import OutputKind, write_file
from zerocve.safe_load import LoadError, load_json
from zerocve.spec import ImageSpec, RepositorySpec, field_location
from zerocve.user_info import split_user_info

LOCK_VERSION: Literal[1] = 1
_SHA256 = r"^[0-9a-f]{64}$"

FetchIndices = Callable[[list[RepositorySpec], str], list[PackageIndex]]
FetchPinnedIndex = Callable[[IndexPin, RepositorySpec], PackageIndex]
HostRepositories = Callable[[], list[RepositorySpec]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _without_user_info(uri: str) -> str:
    # A lock is committed to git: one naming a password (written by an older zerocve,
    # or edited) is refused, not quietly read, so that its owner learns of the leak.
    if split_user_info(uri)[1] is not None:
        raise ValueError(
            "a repository URI with user info (user:password@); delete this lock, lock again "
            "and keep the password in apt's auth.conf (or the spec's URI, which no lock records)"
        )
    return uri


RepositoryUri = Annotated[str, AfterValidator(_without_user_info)]


class LockedIndex(_Model):
    """One Packages index the resolution searched."""

    uri: RepositoryUri
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
    uri: RepositoryUri
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

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.architecture})"


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


def repositories_for(spec: ImageSpec, host_repositories: HostRepositories) -> list[RepositorySpec]:
    """The repositories a lock of ``spec`` may use: the spec's, else the host's apt sources."""
    repositories = spec.contents.repositories
    if repositories is None:
        repositories = host_repositories()
        if not repositories:
            raise LockError("the spec names no repositories and the host has no apt sources")
    return repositories


def _index_archs(spec: ImageSpec, arch: str) -> list[str]:
    """The architectures whose indices ``arch``'s resolution searches: ``arch``, then those a
    request like "libc6:i386" names (dpkg's foreign architectures, installed beside it)."""
    foreign = {
        request.arch
        for request in map(parse_request, spec.contents.packages)
        if request.arch not in (None, "any", "native", "all")
    }
    return [arch, *sorted(foreign - {arch})]


def _resolve(spec: ImageSpec, arch: str, indices: list[PackageIndex]) -> list[LockedPackage]:
    # The same indices give the same universe: what one spec reached, the next finds.
    packages = resolve_in(spec.contents.packages, [index.catalog for index in indices], arch,
                          exclude=spec.contents.exclude)
    return [LockedPackage.of(p) for p in packages]


def lock_spec(
    spec: ImageSpec,
    fetch_indices: FetchIndices,
    host_repositories: HostRepositories,
    *,
    source_date_epoch: int | None = None,
) -> Lock:
    """Resolve ``spec`` for each of its architectures against the indices ``fetch_indices``
    returns for its repositories (the host's apt sources when the spec names none)."""
    repositories = repositories_for(spec, host_repositories)
    archs: dict[str, ArchLock] = {}
    searched: list[PackageIndex] = []
    for arch in sorted(set(spec.archs)):
        indices = [
            index
            for index_arch in _index_archs(spec, arch)
            for index in fetch_indices(repositories, index_arch)
        ]
        searched += indices
        archs[arch] = ArchLock(
            indices=[LockedIndex.of(index) for index in indices],
            packages=_resolve(spec, arch, indices),
        )
    return Lock(
        spec=spec.resolution_digest(),
        source_date_epoch=_source_date_epoch(searched, source_date_epoch),
        archs=archs,
    )


@dataclass(frozen=True)
class TrustedLock:
    """A lock every package of which was found, field for field, in the resolution of the spec
    over indices verified against the spec's keyrings; with the Debian release (from the signed
    Release) each architecture's first repository serves, for the image's /etc/os-release."""

    lock: Lock
    releases: dict[str, DebianRelease | None]


def verify_lock(
    lock: Lock,
    spec: ImageSpec,
    repositories: list[RepositorySpec],
    fetch_pinned_index: FetchPinnedIndex,
    where: str = "the lock",
) -> TrustedLock:
    """Check ``lock`` against ``spec`` and the signed indices it pins (see the module
    docstring); a LockError naming ``where`` and the package when anything differs or cannot
    be verified. ``repositories`` are ``repositories_for(spec, ...)``: never the lock's."""
    releases: dict[str, DebianRelease | None] = {}
    for arch in sorted(set(spec.archs)):
        locked = lock.archs.get(arch)
        if locked is None:
            raise LockError(f"{where}: has no packages for {arch}; run zerocve lock")
        wanted = [
            (repo, Origin(repo.uri, suite, component, index_arch))
            for index_arch in _index_archs(spec, arch)
            for repo in repositories
            for suite in repo.suites
            for component in repo.components
        ]
        pinned = [Origin(i.uri, i.suite, i.component, i.architecture) for i in locked.indices]
        if pinned != [origin for _, origin in wanted]:
            stray = next((o for o in pinned if o not in {o for _, o in wanted}), None)
            problem = (
                f"pins the index {stray.uri} {stray}, which the spec's repositories do not name"
                if stray else "does not pin exactly the indices of the spec's repositories"
            )
            raise LockError(f"{where}: {arch}: {problem}; run zerocve lock")
        indices = []
        for (repo, origin), index in zip(wanted, locked.indices, strict=True):
            pin = IndexPin(origin, index.path, index.sha256, index.release_sha256)
            try:
                indices.append(fetch_pinned_index(pin, repo))
            except RepositoryError as e:
                named = next((str(p) for p in locked.packages
                              if p.origin(origin.architecture) == origin), "its packages")
                raise LockError(f"{where}: cannot verify {named}: {e}; run zerocve lock") from e
        _same_packages(locked.packages, _resolve(spec, arch, indices), f"{where}: {arch}")
        releases[arch] = _first_release(indices)
    return TrustedLock(lock, releases)


def _first_release(indices: list[PackageIndex]) -> DebianRelease | None:
    """The Debian release an architecture's image names: its first repository's."""
    return next((i.release for i in indices if i.release), None)


def resolved_releases(
    spec: ImageSpec, repositories: list[RepositorySpec], fetch_indices: FetchIndices
) -> dict[str, DebianRelease | None]:
    """What ``verify_lock`` finds for a lock ``lock_spec`` just resolved from
    ``fetch_indices`` (the same verified indices, in the same order): each architecture's
    Debian release."""
    return {
        arch: _first_release([index for index_arch in _index_archs(spec, arch)
                              for index in fetch_indices(repositories, index_arch)])
        for arch in sorted(set(spec.archs))
    }


def _same_packages(locked: list[LockedPackage], resolved: list[LockedPackage], where: str) -> None:
    """LockError naming the first package of ``locked`` that ``resolved`` (the signed truth)
    does not hold exactly, or the first it lacks."""
    truth = {(p.name, p.architecture): p for p in resolved}
    seen: set[tuple[str, str]] = set()
    for package in locked:
        key = (package.name, package.architecture)
        good = truth.get(key)
        if good is None or key in seen:
            raise LockError(
                f"{where}: {package}: not in the spec's resolution over its signed indices; "
                "run zerocve lock"
            )
        seen.add(key)
        if good != package:
            field = next(f for f in LockedPackage.model_fields
                         if getattr(package, f) != getattr(good, f))
            raise LockError(
                f"{where}: {package}: {field} {getattr(package, field)!r} is not what the signed "
                f"index says ({getattr(good, field)!r}); run zerocve lock"
            )
    missing = [p for key, p in truth.items() if key not in seen]
    if missing:
        raise LockError(f"{where}: lacks {missing[0]}, which the spec needs; run zerocve lock")


def refuse_downgrades(previous: Lock, new: Lock) -> None:
    """LockError naming the first package ``new`` holds at a lower version than ``previous``:
    a repository serving an older archive must not undo a fix unnoticed."""
    found = []
    for arch, locked in new.archs.items():
        before = previous.archs.get(arch)
        old = {(p.name, p.architecture): p.version for p in before.packages} if before else {}
        for package in locked.packages:
            was = old.get((package.name, package.architecture))
            if was is not None and compare(package.version, was) < 0:
                found.append(f"{package.name}:{package.architecture} {was} → {package.version}")
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise LockError(
            f"the new lock would downgrade {found[0]}{more}; refusing: the repository may "
            "serve an older archive (zerocve lock --allow-downgrade accepts it)"
        )


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
    either the old lock or the new one, never half of one; anything but a previous lock at
    ``path`` is refused (``zerocve.outputs``)."""
    write_file(Path(path), dumps_lock(lock).encode(), OutputKind.LOCK, error=LockError,
               what="cannot write lock file")


__all__ = [
    "LOCK_VERSION",
    "ArchLock",
    "Lock",
    "LockedIndex",
    "LockedPackage",
    "TrustedLock",
    "default_lock_path",
    "dumps_lock",
    "lock_spec",
    "read_lock",
    "refuse_downgrades",
    "repositories_for",
    "resolved_releases",
    "verify_lock",
    "write_lock",
]
