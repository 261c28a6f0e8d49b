"""Lock + .debs -> OCI image: the top-level build.

``build_arch`` is the core and takes plain inputs (package records and their ``.deb`` paths),
``build`` drives it from a lock for every architecture of the spec (several give an image
index). Nothing here downloads: the caller hands in the ``.deb`` paths. The result keeps the
packages it installed, so a caller can gate on them before writing anything.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shlex
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zerocve._pool import cancel, collect, in_order, start
from zerocve.assemble.accounts import account_entries, run_as
from zerocve.assemble.cache import BuildCache
from zerocve.assemble.code import code_digest
from zerocve.assemble.dpkg_db import ADMINDIR, database_entries
from zerocve.assemble.layers import (
    MAX_LAYERS,
    LayerPlan,
    package_layer_entries,
    plan_layers,
    with_parents,
)
from zerocve.assemble.postinst import postinst_entries
from zerocve.assemble.rootfs import (
    RootFs,
    UnpackedPackage,
    merge,
    unpack,
    usr_merge_links,
)
from zerocve.debian.cache import file_sha256
from zerocve.debian.model import InstalledPackage, PackageRecord
from zerocve.debian.releases import DebianRelease, debian_release
from zerocve.errors import BuildError
from zerocve.oci import archive, layout
from zerocve.oci.image import (
    MEDIA_CONFIG,
    MEDIA_MANIFEST,
    Blob,
    OciImage,
    Platform,
    RunConfig,
    canonical_json,
    config_blob,
    manifest_blob,
)
from zerocve.oci.layer import Entry, EntryKind, Layer, make_layer, read_content
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.sbom.embedded import EMBEDDED_SBOM, embedded_sbom
from zerocve.spec import ImageSpec, PathSpec

# Copyright files are read whole for their licenses; a larger one (real ones are at most a
# few hundred KB) gives no license rather than its size in memory.
MAX_COPYRIGHT = 4 << 20

# A verified .deb, or one still being fetched and verified (its future gives the path, or
# raises what the fetch raised).
DebPath = Path | Future[Path]


def _deb_path(deb: DebPath) -> Path:
    return deb if isinstance(deb, Path) else deb.result()


def _deb_size(record: PackageRecord, deb: DebPath) -> int:
    """How long the .deb takes to unpack, roughly: its size (a lock's record has it)."""
    size = getattr(record, "size", None)
    if isinstance(size, int):
        return size
    return deb.stat().st_size if isinstance(deb, Path) else 0


class LockedPackage(PackageRecord, Protocol):
    @property
    def suite(self) -> str: ...


class LockedArch(Protocol):
    @property
    def packages(self) -> Sequence[LockedPackage]: ...


class LockLike(Protocol):
    """The parts of a lock the build reads (``zerocve.lock.Lock`` fits)."""

    @property
    def source_date_epoch(self) -> int: ...
    @property
    def archs(self) -> Mapping[str, LockedArch]: ...


@dataclass(frozen=True)
class ArchImage:
    """One platform's image: its manifest and blobs, and what it installed."""

    arch: str
    platform: Platform
    image: OciImage
    config: Blob
    layers: tuple[Layer, ...]
    packages: tuple[InstalledPackage, ...]


@dataclass(frozen=True)
class BuiltImage:
    """The whole build: one manifest, or an index over several platforms."""

    image: OciImage
    archs: tuple[ArchImage, ...]
    epoch: int

    @property
    def digest(self) -> str:
        return self.image.digest

    @property
    def packages(self) -> tuple[InstalledPackage, ...]:
        """Every package installed, across architectures (for the vulnerability gate)."""
        return tuple(p for arch in self.archs for p in arch.packages)


def _command(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(shlex.split(value)) if isinstance(value, str) else tuple(value)


def run_config(spec: ImageSpec) -> RunConfig:
    return RunConfig(
        user=run_as(spec.accounts),
        entrypoint=_command(spec.entrypoint.command if spec.entrypoint else None),
        cmd=_command(spec.cmd),
        env=dict(spec.environment),
        working_dir=spec.work_dir or "",
    )


def _path_entry(item: PathSpec, mtime: int) -> Entry:
    path = item.path.strip("/")
    if item.type == "directory":
        return Entry(path, EntryKind.DIR, item.permissions, item.uid, item.gid, mtime)
    if item.type == "empty-file":
        return Entry(path, EntryKind.FILE, item.permissions, item.uid, item.gid, mtime)
    return Entry(path, EntryKind.SYMLINK, 0o777, item.uid, item.gid, mtime,
                 target=item.source or "")


def metadata_entries(
    spec: ImageSpec, rootfs: RootFs, release: DebianRelease | None, epoch: int
) -> list[Entry]:
    """The final layer: merged-/usr links, /tmp, postinst effects, accounts, dpkg status and
    the spec's paths. An entry that would replace a package's entry of another type, or lie
    below a package's symlink, is a BuildError (one below a symlink of this layer is refused
    when the layer is written); a ``paths`` entry replaces nothing but a directory with a
    directory (what zerocve or a package writes, the dpkg database above all, is what the
    gate reads)."""
    generated: dict[str, tuple[Entry, str]] = {}

    def add(entries: Iterable[Entry], origin: str) -> None:
        for entry in entries:
            generated[entry.path] = (entry, origin)

    add([Entry(d, EntryKind.SYMLINK, 0o777, mtime=epoch, target=f"usr/{d}")
         for d in usr_merge_links(rootfs.paths)], "merged /usr")
    add([Entry("tmp", EntryKind.DIR, 0o1777, mtime=epoch)], "/tmp")
    add(postinst_entries(rootfs.paths, release, epoch), "reproduced postinst")
    add(account_entries(spec.accounts, epoch), "accounts")
    add(database_entries(rootfs.packages, epoch), "dpkg database")
    add([_sbom_entry(spec, rootfs, {p: e for p, (e, _) in generated.items()}, epoch)], "SBOM")
    for index, item in enumerate(spec.paths):
        entry = _path_entry(item, epoch)
        _check_path_replaces(f"paths[{index}].path", entry, generated, rootfs)
        add([entry], f"paths[{index}]")
    for path, (entry, origin) in generated.items():
        _check_against_packages(path, entry, origin, rootfs)
    return with_parents([e for e, _ in generated.values()], rootfs.paths, epoch)


def _check_path_replaces(
    field: str, entry: Entry, generated: Mapping[str, tuple[Entry, str]], rootfs: RootFs
) -> None:
    if entry.path in generated:
        existing, origin = generated[entry.path]
    elif entry.path in rootfs.paths:
        existing, origin = rootfs.paths[entry.path], f"package {rootfs.owners[entry.path]}"
    else:
        return
    if not existing.kind is entry.kind is EntryKind.DIR:
        raise BuildError(f"{field}: /{entry.path} would replace the {existing.kind.value} "
                         f"{origin} writes there; paths may only add to the image")


def _sbom_entry(
    spec: ImageSpec, rootfs: RootFs, generated: Mapping[str, Entry], epoch: int
) -> Entry:
    """The SPDX document the image carries at ``EMBEDDED_SBOM``: its packages with purls,
    licenses from their copyright files, and the ``.deb`` SHA256 where the record has it."""

    def text(path: str, hops: int = 0) -> str | None:
        entry = generated.get(path) or rootfs.paths.get(path)
        if entry is None or hops > 8:
            return None
        if entry.kind is EntryKind.SYMLINK:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), entry.target))
            return text(target.lstrip("/"), hops + 1)
        if entry.kind is not EntryKind.FILE:
            return None
        data = read_content(entry.data, MAX_COPYRIGHT)
        return None if data is None else data.decode(errors="replace")

    copyrights = {
        p.name: t for p in rootfs.packages if (t := text(f"usr/share/doc/{p.name}/copyright"))
    }
    checksums = {
        f"{p.record.name}:{p.record.architecture}": sha
        for p in rootfs.packages
        if (sha := getattr(p.record, "sha256", ""))
    }
    data = embedded_sbom(
        [_installed(p) for p in rootfs.packages],
        image_name=spec.annotations.get("org.opencontainers.image.title", "image"),
        os_release=text("etc/os-release"),
        debian_version=text("etc/debian_version"),
        copyrights=copyrights,
        checksums=checksums,
        epoch=epoch,
    )
    return Entry(EMBEDDED_SBOM, EntryKind.FILE, 0o644, mtime=epoch, data=data)


def _may_replace(shipped: Entry, entry: Entry, path: str, rootfs: RootFs) -> bool:
    """Same type, a file over a hard link, or anything over an empty directory (base-files
    ships /var/run as a directory that its postinst turns into a link to /run)."""
    if shipped.kind is entry.kind:
        return True
    if entry.kind is EntryKind.FILE and shipped.kind is EntryKind.HARDLINK:
        return True
    prefix = path + "/"
    return shipped.kind is EntryKind.DIR and not any(p.startswith(prefix) for p in rootfs.paths)


def _check_against_packages(path: str, entry: Entry, origin: str, rootfs: RootFs) -> None:
    shipped = rootfs.paths.get(path)
    if shipped is not None and not _may_replace(shipped, entry, path, rootfs):
        raise BuildError(
            f"{origin}: /{path} would be a {entry.kind.value}, but package "
            f"{rootfs.owners[path]} ships a {shipped.kind.value} there"
        )
    parent = posixpath.dirname(path)
    while parent:
        above = rootfs.paths.get(parent)
        if above is not None and above.kind is not EntryKind.DIR:
            raise BuildError(
                f"{origin}: /{path} lies below /{parent}, a {above.kind.value} of package "
                f"{rootfs.owners[parent]}"
            )
        parent = posixpath.dirname(parent)


def input_key(
    spec: ImageSpec,
    arch: str,
    packages: Sequence[tuple[PackageRecord, DebPath]],
    *,
    epoch: int,
    release: DebianRelease | None,
    max_layers: int,
) -> str:
    """A digest of every input of ``build_arch``: equal keys give equal images."""
    document = {
        "code": code_digest(),
        "spec": spec.model_dump(mode="json", by_alias=True),
        "arch": arch,
        "epoch": epoch,
        "release": [release.codename, release.version_id] if release else None,
        "max_layers": max_layers,
        # A lock entry's SHA256 was checked against its .deb when it was fetched: hashing
        # the file again would only slow every no-change rebuild. Other records: the file.
        "packages": [
            [r.name, r.version, r.architecture, r.source, r.source_version,
             getattr(r, "sha256", "") or file_sha256(_deb_path(deb))]
            for r, deb in packages
        ],
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _installed(package: UnpackedPackage) -> InstalledPackage:
    r = package.record
    return InstalledPackage(name=r.name, version=r.version, architecture=r.architecture,
                            source=r.source, source_version=r.source_version,
                            location=f"/{ADMINDIR}/status")


def _to_record(image: ArchImage) -> dict[str, Any]:
    return {
        "config": image.config.digest,
        "manifest": image.image.top.digest,
        "layers": [[layer.digest, layer.diff_id, layer.comment] for layer in image.layers],
        "packages": [[p.name, p.version, p.architecture, p.source, p.source_version]
                     for p in image.packages],
    }


def _from_record(record: dict[str, Any], arch: str, platform: Platform,
                 cache: BuildCache) -> ArchImage | None:
    blobs = {d: cache.get_blob(d) for d in
             [record["config"], record["manifest"], *(layer[0] for layer in record["layers"])]}
    if any(data is None for data in blobs.values()):
        return None  # something was evicted or damaged: build again
    layers = tuple(Layer(blobs[digest] or b"", digest, diff_id, comment)
                   for digest, diff_id, comment in record["layers"])
    config = Blob(MEDIA_CONFIG, blobs[record["config"]] or b"")
    manifest = Blob(MEDIA_MANIFEST, blobs[record["manifest"]] or b"")
    packages = tuple(
        InstalledPackage(name=n, version=v, architecture=a, source=s, source_version=sv,
                         location=f"/{ADMINDIR}/status")
        for n, v, a, s, sv in record["packages"]
    )
    return ArchImage(arch, platform, OciImage.single(manifest, config, layers), config, layers,
                     packages)


def build_arch(
    spec: ImageSpec,
    arch: str,
    packages: Sequence[tuple[PackageRecord, DebPath]],
    *,
    epoch: int,
    release: DebianRelease | None = None,
    reporter: Reporter = NULL_REPORTER,
    max_layers: int = MAX_LAYERS,
    cache: BuildCache | None = None,
) -> ArchImage:
    """Build one platform's image from ``packages`` (records with their ``.deb`` paths).

    With a ``cache``, an image built before from the same inputs is read back, and layers
    whose bytes did not change are not compressed again."""
    platform = Platform.from_debian(arch)
    names = [record.name for record, _ in packages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BuildError(f"{arch}: package listed twice: {', '.join(duplicates)}")
    key = None
    if cache is not None:
        key = input_key(spec, arch, packages, epoch=epoch, release=release,
                        max_layers=max_layers)
        memo = cache.image_record(key)
        cached = _from_record(memo, arch, platform, cache) if memo else None
        if cached is not None:
            reporter.note(f"{arch}: unchanged inputs, image read from the build cache")
            return cached
    keep = spec.contents.files.path_filter()
    # Decompression (lzma, zstd) and compression (zlib) release the GIL: threads overlap
    # them. Results are collected in input order, so the output does not depend on timing,
    # and the error raised is the one of the first failing package in lock order. Layers
    # are written on ``pool`` and their gzip blocks deflated on ``blocks`` (a task of one
    # pool never waits for another task of the same pool), so one large layer still uses
    # every core. A .deb still being fetched is unpacked as soon as it is verified.
    workers = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            ThreadPoolExecutor(max_workers=workers) as blocks:
        with reporter.task(f"{arch}: reading packages", total=len(packages)) as task:

            def read(item: tuple[PackageRecord, DebPath]) -> UnpackedPackage:
                record, deb = item
                package = unpack(record, _deb_path(deb), keep)
                task.advance()
                return package

            rootfs = merge(in_order(pool, read, packages, [_deb_size(*p) for p in packages]))
        plans = plan_layers(rootfs.packages, max_layers)
        with reporter.task(f"{arch}: writing layers", total=len(plans) + 1) as task:

            def write(entries: list[Entry], comment: str) -> Layer:
                layer = make_layer(entries, epoch, comment, cache, blocks)
                task.advance()
                return layer

            def write_package_layer(plan: LayerPlan) -> Layer:
                return write(package_layer_entries(plan, rootfs), plan.comment)

            # The package layers are written while this thread works out the metadata (the
            # dpkg status, the SBOM, the checks against every package's files): an error
            # there is still the one raised, and nothing is kept.
            written = start(pool, write_package_layer, plans, [plan.size for plan in plans])
            try:
                meta = metadata_entries(spec, rootfs, release, epoch)
            except BaseException:
                cancel(written)
                raise
            layers = collect(written)
            layers.append(write(meta, "metadata: dpkg status, accounts, certificates"))
    config = config_blob(platform, run_config(spec), layers, epoch)
    manifest = manifest_blob(config, layers, spec.annotations, epoch)
    installed = tuple(_installed(p) for p in rootfs.packages)
    result = ArchImage(arch, platform, OciImage.single(manifest, config, layers), config,
                       tuple(layers), installed)
    if cache is not None and key is not None:
        cache.put_blob(config.data)
        cache.put_blob(manifest.data)
        cache.store_image_record(key, _to_record(result))
    return result


def combine(archs: Sequence[ArchImage], spec: ImageSpec, epoch: int) -> BuiltImage:
    """One platform: its manifest is the image; several: an index over them."""
    if len(archs) == 1:
        return BuiltImage(archs[0].image, tuple(archs), epoch)
    index = OciImage.multi([(a.image, a.platform) for a in archs], spec.annotations, epoch)
    return BuiltImage(index, tuple(archs), epoch)


def build(
    spec: ImageSpec,
    lock: LockLike,
    debs: Mapping[tuple[str, str], DebPath],
    *,
    reporter: Reporter = NULL_REPORTER,
    epoch: int | None = None,
    max_layers: int = MAX_LAYERS,
    cache: BuildCache | None = None,
    releases: Mapping[str, DebianRelease | None] | None = None,
) -> BuiltImage:
    """Build every architecture of ``spec`` from ``lock``; ``debs`` maps (package name,
    package architecture) to the verified ``.deb`` file, or to the future of its fetch (each
    is unpacked as soon as it is there). ``releases`` (per architecture, from
    the signed Release files: ``zerocve.lock.verify_lock``) names the Debian release for
    /etc/os-release; without it, the first suite name of the lock's packages is read as one.
    Times are clamped to ``epoch`` (``Settings.source_date_epoch``) when given, else to the
    lock's date."""
    date = lock.source_date_epoch if epoch is None else epoch
    results = []
    for arch in spec.archs:
        locked = lock.archs.get(arch)
        if locked is None:
            raise BuildError(f"the lock has no packages for {arch}; run 'zerocve lock' again")
        inputs: list[tuple[PackageRecord, DebPath]] = []
        for package in locked.packages:
            path = debs.get((package.name, package.architecture))
            if path is None:
                raise BuildError(f"{package.name} {package.version} ({package.architecture}):"
                                 " no .deb given")
            inputs.append((package, path))
        if releases is not None:
            release = releases.get(arch)
        else:
            suites = sorted({p.suite for p in locked.packages})
            release = debian_release(suites[0], None) if suites else None
        results.append(build_arch(spec, arch, inputs, epoch=date, release=release,
                                  reporter=reporter, max_layers=max_layers, cache=cache))
    return combine(results, spec, date)


def write_layout(built: BuiltImage, out_dir: Path, ref_name: str = layout.DEFAULT_REF) -> Path:
    return layout.write_layout(built.image, out_dir, ref_name)


def write_archive(built: BuiltImage, tar_path: Path, ref_name: str = layout.DEFAULT_REF) -> Path:
    return archive.write_archive(built.image, tar_path, built.epoch, ref_name)


__all__ = [
    "ArchImage",
    "BuiltImage",
    "DebPath",
    "build",
    "build_arch",
    "combine",
    "write_archive",
    "write_layout",
]
