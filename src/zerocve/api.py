"""The zerocve library: lock, build, scan, check the gate, publish.

The command line, the bench scripts and the rebuild loop all call these functions; they take
typed values (a loaded spec, a lock, an image in memory or on disk) and one ``Settings``
(``zerocve.settings``), and never read the environment. Errors are ``ZerocveError``s, except
the gate, whose answer is a ``Verdict`` value::

    settings = Settings.from_env()
    spec = load_spec(Path("image.yaml"))
    indices = fetch_indices(repositories_of(spec, settings), index_archs(spec), settings)
    built = build(spec, lock(spec, settings, indices=indices), settings)
    results = scan(built, settings, offered=indices.newest_sources())
    verdict = check_gate(results, GatePolicy())
    if verdict.passed:
        publish(built, "registry.example/team/app:1", settings)

One ``Indices`` value answers both the resolution and the gate's "do the repositories carry
the fix" question, so the two never disagree: the repositories are read once.
"""

from __future__ import annotations

import functools
import importlib
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerocve.debian.version import compare
from zerocve.errors import LockError, UsageError
from zerocve.inventory.model import Distro, Inventory
from zerocve.oci.media_types import DEFAULT_REF
from zerocve.oci.platform import Platform
from zerocve.settings import Settings
from zerocve.vuln.gate import FailOn, describe, over_gate, package_set_difference
from zerocve.vuln.model import Finding, ScanResult, Severity, State
from zerocve.vuln.severity import SeveritySource

# Start-up time is part of every scan: what only locks, builds and publishes need (pydantic
# models, httpx, the image builder) is imported by the functions that use it, and the names
# re-exported from there are looked up on first use (``__getattr__`` below).
if TYPE_CHECKING:
    from zerocve.assemble.image import BuiltImage
    from zerocve.debian.releases import DebianRelease
    from zerocve.debian.repo import DebRef, PackageIndex, RepoClient
    from zerocve.lock import FetchIndices, Lock, default_lock_path, read_lock, write_lock
    from zerocve.lock_record import VerifiedLocks
    from zerocve.oci.reference import Reference
    from zerocve.oci.registry import RegistryClient
    from zerocve.spec import ImageSpec, RepositorySpec, load_spec

_REEXPORTED = {
    "BuiltImage": "zerocve.assemble.image",
    "Lock": "zerocve.lock",
    "default_lock_path": "zerocve.lock",
    "read_lock": "zerocve.lock",
    "write_lock": "zerocve.lock",
    "load_spec": "zerocve.spec",
}


def __getattr__(name: str) -> Any:
    if name in _REEXPORTED:
        return getattr(importlib.import_module(_REEXPORTED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# -- indices -------------------------------------------------------------------------------


def _repository_key(repository: RepositorySpec) -> str:
    return repository.model_dump_json()


def repositories_of(spec: ImageSpec, settings: Settings) -> list[RepositorySpec]:
    """The spec's repositories, else the host's apt sources (their inline keys stored in the
    cache); a LockError when neither names one."""
    from zerocve.debian.sources import host_repositories
    from zerocve.lock import repositories_for

    return repositories_for(spec, lambda: host_repositories(settings.apt_dir,
                                                          key_dir=settings.cache_dir / "keys"))


def index_archs(spec: ImageSpec) -> list[str]:
    """Every architecture whose indices a lock of ``spec`` reads: its archs, and the foreign
    ones its requests name (``libc6:i386``)."""
    from zerocve.debian.resolve import parse_request

    foreign = {
        request.arch
        for request in map(parse_request, spec.contents.packages)
        if request.arch not in (None, "any", "native", "all")
    }
    return sorted(set(spec.archs) | foreign)


class Indices:
    """Verified package indices of some repositories x architectures, read once and shared by
    every ``lock`` call and gate question that is given this value (the rebuild loop reads
    one per cycle for all its images). A pair not read yet is fetched on first use, once
    (under a lock), with ``fetch`` or a repository client made from ``settings``; with
    neither, asking for it is a LockError."""

    def __init__(
        self,
        fetched: Mapping[tuple[str, str], Sequence[PackageIndex]] | None = None,
        settings: Settings | None = None,
        *,
        fetch: FetchIndices | None = None,
    ) -> None:
        self._fetched: dict[tuple[str, str], tuple[PackageIndex, ...]] = {
            key: tuple(value) for key, value in (fetched or {}).items()
        }
        if fetch is None and settings is not None:
            fetch = functools.partial(_fetch_with_client, settings)
        self._fetch = fetch
        self._mutex = threading.Lock()

    def get(self, repositories: Sequence[RepositorySpec], arch: str) -> list[PackageIndex]:
        """The indices of ``repositories`` for ``arch``, in the order the repositories list
        them (the shape ``zerocve.lock.lock_spec`` asks for)."""
        with self._mutex:
            missing = list({_repository_key(r): r for r in repositories
                            if (_repository_key(r), arch) not in self._fetched}.values())
            if missing and self._fetch is None:
                raise LockError(
                    f"{missing[0].uri} ({arch}): not among the fetched indices; fetch "
                    "them with the spec's repositories and archs"
                )
            fetch = self._fetch
            if fetch is not None and missing:
                # Repositories in one call (a mirror and its security archive): the client
                # overlaps their downloads and signature checks, and parses on this thread.
                found = fetch(missing, arch)
                for repository in missing:
                    self._fetched[(_repository_key(repository), arch)] = tuple(
                        index for index in found
                        if index.origin.uri == repository.uri
                        and index.origin.suite in repository.suites
                        and index.origin.component in repository.components
                    )
            return [
                index
                for repository in repositories
                for index in self._fetched[(_repository_key(repository), arch)]
            ]

    def all(self) -> list[PackageIndex]:
        with self._mutex:
            return [index for indices in self._fetched.values() for index in indices]

    def newest_sources(
        self, repositories: Sequence[RepositorySpec] = (), archs: Sequence[str] = ()
    ) -> dict[str, str]:
        """Source package → the newest version these indices offer (for the gate: a fix the
        repositories do not carry yet cannot be had by rebuilding): of ``repositories`` x
        ``archs`` when given (fetched now if not yet), else of every index read so far."""
        chosen = (
            [index for arch in archs for index in self.get(repositories, arch)]
            if repositories else self.all()
        )
        newest: dict[str, str] = {}
        for index in chosen:
            for package in index.packages:
                known = newest.get(package.source)
                if known is None or compare(package.source_version, known) > 0:
                    newest[package.source] = package.source_version
        return newest


def repo_client(settings: Settings, repositories: Sequence[RepositorySpec] = ()) -> RepoClient:
    """The repository client these settings describe (cache, clock, validity, proxies), with
    the credentials of apt's login files under ``settings.apt_dir``, as apt has them, after
    those split off ``repositories``' URIs. Its HTTP is the standard library's: the settings'
    httpx ``transport`` is for the registry and feeds."""
    from zerocve.debian.apt_auth import logins_of, read_apt_logins
    from zerocve.debian.repo import RepoClient

    return RepoClient(
        settings.cache_dir, reporter=settings.reporter,
        ignore_valid_until=settings.ignore_valid_until, clock=settings.clock,
        deb_cache_max=settings.cache_bounds.deb, index_cache_max=settings.cache_bounds.index,
        seal=settings.cache_seal, proxies=settings.proxies,
        logins=read_apt_logins(settings.apt_dir).after(logins_of(repositories)),
    )


def _fetch_with_client(
    settings: Settings, repositories: list[RepositorySpec], arch: str
) -> list[PackageIndex]:
    with repo_client(settings, repositories) as client:
        return client.fetch_indices(repositories, arch)


def fetch_indices(
    repositories: Sequence[RepositorySpec], archs: Sequence[str], settings: Settings
) -> Indices:
    """Fetch and verify every index of ``repositories`` for ``archs`` now."""
    indices = Indices(settings=settings)
    for arch in archs:
        indices.get(list(repositories), arch)
    return indices


# -- lock ----------------------------------------------------------------------------------


def _refuse_one_name_twice(result: Lock) -> None:
    """An image holds one architecture of each package name. dpkg can co-install a Multi-Arch
    ``same`` package for two architectures, but the image's single dpkg database, its root
    filesystem and its SBOM are keyed by name, so such a lock is refused here, at lock time,
    rather than by the build ("package listed twice")."""
    for arch, locked in result.archs.items():
        seen: dict[str, str] = {}
        for package in locked.packages:
            other = seen.setdefault(package.name, package.architecture)
            if other != package.architecture:
                raise LockError(
                    f"{arch}: {package.name} is selected for both {other} and "
                    f"{package.architecture}; an image holds one architecture of each package: "
                    f"drop the ':{package.architecture}' or ':{other}' request, or build a "
                    f"separate image for {package.architecture if other == arch else other}"
                )


def lock(
    spec: ImageSpec,
    settings: Settings,
    *,
    indices: Indices | None = None,
    previous: Lock | None = None,
    allow_downgrade: bool = False,
    record: bool = False,
) -> Lock:
    """Resolve ``spec`` for each of its architectures (``indices`` when given, else fetched
    now). With ``previous``, a package whose version would go down is a LockError unless
    ``allow_downgrade``: a mirror replaying an old Release must not undo a fix. With
    ``record``, a verified-lock record is kept for the result (``zerocve.lock_record``): a
    lock resolved from verified indices is what ``verify_lock`` would find, so the build
    that follows (``zerocve lock`` then ``zerocve build``) does not resolve it again."""
    from zerocve.lock import lock_spec, refuse_downgrades, resolved_releases

    source = indices or Indices(settings=settings)
    result = lock_spec(spec, source.get, lambda: repositories_of(spec, settings),
                       source_date_epoch=settings.source_date_epoch)
    _refuse_one_name_twice(result)
    if previous is not None and not allow_downgrade:
        refuse_downgrades(previous, result)
    records = _verified_locks(spec, result, settings) if record else None
    if records is not None:
        verified, key, repositories = records
        verified.store(key, resolved_releases(spec, repositories, source.get), repositories,
                       settings.clock())
    return result


def _verified_locks(
    spec: ImageSpec, lock: Lock, settings: Settings
) -> tuple[VerifiedLocks, str, list[RepositorySpec]] | None:
    """The verified-lock records (``zerocve.lock_record``), the key of ``lock``'s and the
    repositories it is verified against; None when no record can be kept (no cache seal, a
    keyring that cannot be read)."""
    from zerocve._source_digest import package_digest
    from zerocve.debian.release_store import ReleaseStore
    from zerocve.lock_record import VerifiedLocks, record_key

    seal = settings.cache_seal
    if seal is None:
        return None
    repositories = repositories_of(spec, settings)
    key = record_key(spec, lock, repositories, package_digest(),
                     ReleaseStore(settings.cache_dir))
    return (VerifiedLocks(settings.cache_dir, seal), key, repositories) if key else None


def lock_for_build(
    spec: ImageSpec,
    lock_path: Path,
    settings: Settings,
    *,
    locked: bool = False,
    indices: Indices | None = None,
    record: bool = False,
) -> Lock:
    """The lock a build uses: the file at ``lock_path`` while it is fresh for ``spec``, else
    a new resolution (not written; with ``record``, kept as a verified-lock record, as
    ``lock`` keeps one, so that ``build`` does not read the indices again to verify what was
    just resolved from them); under ``locked``, a missing or stale file is a LockError."""
    from zerocve.lock import read_lock

    existing = None
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
    # A re-resolution is a re-lock: it may not lower a version the stale lock held either.
    return lock(spec, settings, indices=indices, previous=existing, record=record)


# -- build ---------------------------------------------------------------------------------


def _deb_refs(lock: Lock, archs: Sequence[str]) -> dict[tuple[str, str], DebRef]:
    """Every .deb the lock names for ``archs``, keyed by (package name, architecture)."""
    from zerocve.debian.repo import DebRef

    wanted: dict[tuple[str, str], DebRef] = {}
    for arch in archs:
        locked = lock.archs.get(arch)
        for package in locked.packages if locked else ():
            wanted.setdefault(
                (package.name, package.architecture),
                DebRef(package.uri, package.filename, package.size, package.sha256),
            )
    return wanted


def fetch_debs(
    lock: Lock, archs: Sequence[str], settings: Settings,
    repositories: Sequence[RepositorySpec] = (),
) -> dict[tuple[str, str], Path]:
    """Every .deb the lock names for ``archs``, fetched (or found in the cache) and verified
    against the lock's size and SHA256, with the credentials of ``repositories``' URIs; keyed
    by (package name, package architecture)."""
    wanted = _deb_refs(lock, archs)
    keys = sorted(wanted)
    with repo_client(settings, repositories) as client:
        paths = client.fetch_debs([wanted[key] for key in keys])
    return dict(zip(keys, paths, strict=True))


# .debs downloaded at once while the build unpacks those already there.
_FETCHERS = 4


def build(
    spec: ImageSpec,
    lock: Lock,
    settings: Settings,
    *,
    use_cache: bool = True,
    where: str = "the lock",
) -> BuiltImage:
    """The image ``lock`` gives for ``spec``, in memory (``BuiltImage.digest`` is the image or
    index digest); nothing is written but the download and build caches. The lock is first
    verified against the spec's signed indices (a LockError naming ``where``, e.g. the lock
    file, and the package when it is not what they say), unless a record in the cache says
    this very lock passed against these very inputs (``zerocve.lock_record``; not read or
    written without ``use_cache``)."""
    from concurrent.futures import ThreadPoolExecutor

    from zerocve.assemble.cache import BuildCache
    from zerocve.assemble.image import build as assemble

    # Nothing of a lock is fetched or installed before it is checked against the signed
    # indices.
    releases = verified_releases(spec, lock, settings, use_record=use_cache, where=where)
    seal = settings.cache_seal if use_cache else None
    cache = (BuildCache(settings.build_cache_dir, seal, settings.cache_bounds.build) if seal
             else None)
    wanted = _deb_refs(lock, spec.archs)
    with repo_client(settings, repositories_of(spec, settings)) as client, \
            ThreadPoolExecutor(max_workers=_FETCHERS) as fetching:
        # Largest first, as the build unpacks them: the last .debs to arrive are small ones.
        debs = {
            key: fetching.submit(client.fetch_deb, ref)
            for key, ref in sorted(wanted.items(), key=lambda item: -item[1].size)
        }
        try:
            return assemble(spec, lock, debs, reporter=settings.reporter,
                            epoch=settings.source_date_epoch, cache=cache, releases=releases)
        finally:
            for deb in debs.values():
                deb.cancel()  # a failed or cached build: what has not started is not needed


def verified_releases(
    spec: ImageSpec, lock: Lock, settings: Settings, *, use_record: bool = True,
    where: str = "the lock",
) -> dict[str, DebianRelease | None]:
    """``verify_lock`` of ``lock`` against ``spec``'s repositories: the Debian release of each
    architecture, from the signed Releases, or a LockError. With ``use_record``, a verified-lock
    record keyed by every input of the verification stands for it, and one is kept after a
    verification that passed."""
    from zerocve.lock import verify_lock

    records = _verified_locks(spec, lock, settings) if use_record else None
    now = settings.clock()
    if records is not None:
        verified, key, _ = records
        known = verified.load(key, sorted(set(spec.archs)), now)
        if known is not None:
            return known
    repositories = repositories_of(spec, settings)
    with repo_client(settings, repositories) as client:
        trusted = verify_lock(lock, spec, repositories, client.fetch_pinned_index, where=where)
    if records is not None:
        verified, key, repositories = records
        verified.store(key, trusted.releases, repositories, now)
    return trusted.releases


def write_layout(built: BuiltImage, path: Path, tag: str = DEFAULT_REF) -> Path:
    """Write ``built`` as an OCI layout at ``path``, all or nothing."""
    from zerocve.assemble.image import write_layout as write

    return write(built, path, tag)


def write_archive(built: BuiltImage, path: Path, tag: str = DEFAULT_REF) -> Path:
    """Write ``built`` as an oci-archive at ``path``, all or nothing."""
    from zerocve.assemble.image import write_archive as write

    return write(built, path, tag)


def image_platforms(built: BuiltImage) -> list[str | None]:
    """Each image's platform as a scan names it (``linux/arm64/v8``); [None] for a build that
    made a single image."""
    if len(built.archs) == 1:
        return [None]
    return [str(a.platform) for a in built.archs]


def sbom_paths(built: BuiltImage, target: Path) -> dict[str | None, Path]:
    """Where the SBOMs beside an image go: ``TARGET.spdx.json``, or one per platform
    (``TARGET.linux-arm64-v8.spdx.json``) for a multi-platform index; keyed by platform."""
    return {
        platform: target.with_name(
            f"{target.name}{'.' + platform.replace('/', '-') if platform else ''}.spdx.json"
        )
        for platform in image_platforms(built)
    }


def write_sboms(built: BuiltImage, lock: Lock, target: Path, settings: Settings) -> list[Path]:
    """SPDX documents of the image written at ``target``, read back as any scanner reads it,
    naming its digest (which the SBOM inside the image cannot), with the lock's SHA256s."""
    from zerocve.errors import BuildError
    from zerocve.inventory.targets import open_inventory
    from zerocve.outputs import OutputKind, write_file
    from zerocve.sbom import lock_checksums, render_sbom

    written = []
    for platform, path in sbom_paths(built, target).items():
        inventory = open_inventory(str(target), platform=platform, cache_dir=settings.cache_dir,
                                   cache_max=settings.cache_bounds.layer_index,
                                   seal=settings.cache_seal)
        document = render_sbom(inventory, "spdx-json", epoch=built.epoch,
                               checksums=lock_checksums(lock, inventory))
        write_file(path, document.encode(), OutputKind.SPDX, error=BuildError,
                   what="cannot write the SBOM")
        written.append(path)
    return written


# -- scan and gate -------------------------------------------------------------------------


def scan(
    target: BuiltImage | Path | str,
    settings: Settings,
    *,
    vex: Sequence[Path] = (),
    offered: Mapping[str, str] | None = None,
    platforms: Sequence[str | None] | None = None,
    severity_source: SeveritySource = "debian",
    distro: Distro | str | None = None,
) -> list[ScanResult]:
    """Scan ``target`` (an image in memory, a layout or archive path, or any target
    ``zerocve scan`` takes) against the advisory DB at ``settings.db_path``: one result per
    platform, each image's platform in the image's order unless ``platforms`` names them
    (``[None]``: the one image ``zerocve scan`` picks by default). ``offered`` (source →
    newest version in the image's repositories, e.g. ``Indices.newest_sources()``) tells
    ``fixed`` from ``fix-unavailable``. ``distro`` (a ``Distro``, or ``debian:12`` /
    ``debian:bookworm`` as ``--distro`` takes it) replaces the release the target's
    os-release names. An image in memory is read there, not written out first; its reports
    name it by digest."""
    from zerocve.inventory.targets import platforms_of
    from zerocve.oci.reader import ImageSource, MemoryLayout
    from zerocve.vuln.scan import scan as scan_one

    release = _distro(distro)
    location: str | ImageSource
    if isinstance(target, (Path, str)):
        location = str(target)
        wanted = (list(platforms) if platforms is not None
                  else platforms_of(location, reporter=settings.reporter,
                                    registry=registry_client(settings)))
    else:  # a BuiltImage (a class this module does not import for a scan), read in memory
        from zerocve.oci.layout import layout_files

        location = MemoryLayout(dict(layout_files(target.image)), target.digest)
        wanted = list(platforms) if platforms is not None else image_platforms(target)
    return [
        replace(scan_one(location, db_path=settings.db_path, vex_files=vex,
                         platform=platform, available_versions=offered,
                         severity_source=severity_source, reporter=settings.reporter,
                         distro=release, cache_dir=settings.cache_dir,
                         cache_max=settings.cache_bounds.layer_index,
                         registry=registry_client(settings), seal=settings.cache_seal),
                platform=platform)
        for platform in wanted
    ]


def _distro(distro: Distro | str | None) -> Distro | None:
    """A ``Distro``, or the text ``--distro`` takes (``debian:12``, ``debian:bookworm``)."""
    if not isinstance(distro, str):
        return distro
    from zerocve.inventory.dpkg import named_distro

    try:
        return named_distro(distro)
    except ValueError as e:
        raise UsageError(f"--distro {e}") from None


def gate(
    target: BuiltImage | Path | str,
    settings: Settings,
    policy: GatePolicy,
    *,
    vex: Sequence[Path] = (),
    indices: Indices | None = None,
    expected: Lock | None = None,
    spec: ImageSpec | None = None,
) -> tuple[list[ScanResult], Verdict]:
    """Scan every platform of ``target`` and check the gate (see ``check_gate``). The
    repositories (``indices``) are asked what they offer only when a finding looks fixable,
    to tell ``fixed`` from ``fix-unavailable``: a fix they do not carry yet cannot be had by
    rebuilding. With ``spec``, its repositories and archs are asked (read now when the lock
    did not need them); without, every index ``indices`` read so far."""
    results = scan(target, settings, vex=vex)
    if indices is not None and has_fixable(results):
        offered = (indices.newest_sources(repositories_of(spec, settings), index_archs(spec))
                   if spec is not None else indices.newest_sources())
        results = scan(target, settings, vex=vex, offered=offered)
    return results, check_gate(results, policy, expected)


@dataclass(frozen=True)
class GatePolicy:
    """Which findings fail: their states (``fail_on``) and lowest severity."""

    fail_on: FailOn = FailOn.FIXED
    min_severity: Severity = Severity.NEGLIGIBLE


@dataclass(frozen=True)
class Verdict:
    """The gate's answer, a value: ``failing`` holds the findings over the gate, worst
    first; ``reason`` is one line for a person."""

    passed: bool
    failing: tuple[Finding, ...]
    reason: str


def check_gate(
    results: Sequence[ScanResult], policy: GatePolicy = GatePolicy(), expected: Lock | None = None
) -> Verdict:
    """Whether ``results`` pass ``policy``. With ``expected``, the packages the scan read back
    must also be exactly the lock's, or the verdict fails: an image whose package database
    was hidden or altered is not clean."""
    if expected is not None:
        mismatch = lock_difference([(r.platform, r.inventory) for r in results], expected)
        if mismatch:
            platform, difference = mismatch
            return Verdict(False, (), f"{platform}: {difference}" if platform else difference)
    failing = over_gate(
        (f for result in results for f in result.findings), policy.fail_on, policy.min_severity
    )
    if failing:
        return Verdict(False, tuple(failing), describe(failing, policy.fail_on))
    total = sum(len(r.findings) for r in results)
    return Verdict(True, (), f"nothing over the gate ({total} findings, --fail-on "
                             f"{policy.fail_on.value})")


def read_back(
    target: Path | str, settings: Settings
) -> list[tuple[str | None, Inventory]]:
    """The packages each platform's image at ``target`` holds, read back as any scanner reads
    them (no advisory DB needed)."""
    from zerocve.inventory.targets import platforms_of

    return [
        (platform, inventory(target, settings, platform=platform))
        for platform in platforms_of(str(target), reporter=settings.reporter,
                                     registry=registry_client(settings))
    ]


def inventory(target: Path | str, settings: Settings, *, platform: str | None = None) -> Inventory:
    """The packages and release of ``target`` (any target ``zerocve scan`` takes; for an
    index, the image of ``platform``, default linux/amd64)."""
    from zerocve.inventory.targets import open_inventory

    return open_inventory(str(target), platform=platform, reporter=settings.reporter,
                          cache_dir=settings.cache_dir,
                          cache_max=settings.cache_bounds.layer_index,
                          registry=registry_client(settings),
                          seal=settings.cache_seal)


def registry_client(settings: Settings) -> Callable[[str], RegistryClient]:
    """Makes the registry client for a host with the settings' credentials and transport
    (httpx is imported when one is made: most targets are not in a registry)."""

    def client(host: str) -> RegistryClient:
        from zerocve.oci.registry import RegistryClient

        return RegistryClient(host, transport=settings.transport,
                              auth_files=settings.registry_auth)

    return client


def lock_difference(
    images: Sequence[tuple[str | None, Inventory]], lock: Lock
) -> tuple[str | None, str] | None:
    """The first image (platform, inventory) whose packages differ from what ``lock`` holds
    for its architecture, and how; None when every image holds exactly its lock's packages.
    Findings are only as good as the package list: an image whose package database was
    hidden or altered is not clean."""
    by_platform = {str(Platform.from_debian(arch)): locked.packages
                   for arch, locked in lock.archs.items()}
    for platform, inventory in images:
        expected = by_platform.get(platform or "") if len(by_platform) > 1 else None
        if expected is None:  # a single image, or a platform the lock cannot name
            expected = [p for locked in lock.archs.values() for p in locked.packages]
        difference = package_set_difference(inventory.packages, expected)
        if difference is not None:
            return platform, difference
    return None


def has_fixable(results: Sequence[ScanResult]) -> bool:
    return any(f.state is State.FIXED for r in results for f in r.findings)


# -- publish -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    reference: str  # REGISTRY/REPO[:TAG]@DIGEST
    digest: str
    bytes_pushed: int
    blobs_pushed: int
    blobs_skipped: int


def publish(
    image: BuiltImage | Path,
    ref: str | Reference,
    settings: Settings,
    *,
    mount_from: str | None = None,
    insecure: bool | None = None,
) -> Published:
    """Push ``image`` (in memory, or an OCI layout directory) to ``ref``: blobs, manifests by
    digest, the tag last. Nothing here scans: gate first with ``check_gate``."""
    from zerocve.oci.reference import parse_reference
    from zerocve.oci.registry import RegistryClient
    from zerocve.publish import push_layout

    reference = parse_reference(ref) if isinstance(ref, str) else ref
    with tempfile.TemporaryDirectory(prefix="zerocve-publish-") as scratch:
        if isinstance(image, Path):
            layout = image
        else:
            layout = write_layout(image, Path(scratch) / "layout", reference.tag or DEFAULT_REF)
        with RegistryClient(reference.api_host, insecure=insecure, transport=settings.transport,
                            auth_files=settings.registry_auth) as client:
            pushed = push_layout(layout, reference, client, reporter=settings.reporter,
                                 from_repo=mount_from)
    return Published(str(reference.with_digest(pushed.digest)), pushed.digest,
                     pushed.bytes_pushed, pushed.blobs_pushed, pushed.blobs_skipped)


__all__ = [
    "BuiltImage",
    "GatePolicy",
    "Indices",
    "Lock",
    "Published",
    "Settings",
    "Verdict",
    "build",
    "check_gate",
    "default_lock_path",
    "fetch_debs",
    "fetch_indices",
    "index_archs",
    "load_spec",
    "lock",
    "lock_difference",
    "lock_for_build",
    "gate",
    "image_platforms",
    "publish",
    "inventory",
    "read_back",
    "registry_client",
    "read_lock",
    "repo_client",
    "repositories_of",
    "sbom_paths",
    "scan",
    "verified_releases",
    "write_archive",
    "write_layout",
    "write_lock",
    "write_sboms",
]
