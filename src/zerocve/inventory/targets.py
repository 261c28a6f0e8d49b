"""``open_inventory(TARGET)``: what a scan or an SBOM is about, whatever TARGET is.

TARGET may carry a transport prefix, as skopeo spells them, or be recognised on its own:

=====================  ======================================================================
``oci:DIR[:TAG]``      an OCI image layout (recognised: a directory with ``index.json`` and
                       ``oci-layout``); TAG picks among ``org.opencontainers.image.ref.name``
``oci-archive:FILE``   the same in a tar file (recognised: a tar with ``index.json``); a
                       docker-archive (``docker save``, ``podman save``) is read too
``docker://REF``       an image in a registry, pulled over the distribution API (recognised
                       without the prefix when REF starts with a host: ``127.0.0.1:5000/x``,
                       ``registry.example/x``; a bare ``debian:12`` needs the prefix, so a
                       mistyped path is never sent to Docker Hub)
``dir:DIR``            a root filesystem (recognised: any other directory)
``sbom:FILE``          a CycloneDX or SPDX JSON SBOM (recognised: a JSON file)
=====================  ======================================================================
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from zerocve.errors import InventoryError, UsageError
from zerocve.inventory.detect import INDEX_KEY, detect, wanted
from zerocve.inventory.model import Inventory
from zerocve.inventory.tree import DirectoryTree
from zerocve.oci.platform import Platform
from zerocve.oci.reader import is_layout
from zerocve.progress import NULL_REPORTER, Reporter, Task

# The image readers (layers, zstd, the layer cache, registry pulls) and the SBOM reader are
# imported for the targets that need them: a scan of a root filesystem is a short process.
if TYPE_CHECKING:
    from zerocve.cache_seal import CacheSeal
    from zerocve.inventory.sources import RegistryFactory
    from zerocve.oci.reader import ImageSource

_KINDS = {
    "oci:": "layout",
    "oci-archive:": "archive",
    "docker://": "registry",
    "dir:": "rootfs",
    "sbom:": "sbom",
}
PREFIXES = tuple(_KINDS)


def without_prefix(target: str) -> str:
    """``target`` without its transport prefix, when it has one."""
    for prefix in PREFIXES:
        if target.startswith(prefix):
            return target[len(prefix) :]
    return target


def _layout_and_tag(text: str) -> tuple[Path, str | None]:
    """``oci:DIR[:TAG]``: the whole text is the directory when it exists (paths may hold
    colons), else the part after the last colon is the tag."""
    if Path(text).is_dir() or ":" not in text:
        return Path(text), None
    directory, _, tag = text.rpartition(":")
    return Path(directory), tag


def _image(
    source: ImageSource,
    target: str,
    platform: str | None,
    tag: str | None,
    name: str | None,
    reporter: Reporter,
    cache_dir: Path | None,
    cache_max: int | None,
    licenses: bool,
    seal: CacheSeal | None,
) -> Inventory:
    from zerocve.inventory.image_fs import LayeredTree
    from zerocve.inventory.images import select_image
    from zerocve.inventory.inventory_cache import InventoryCache
    from zerocve.inventory.layer_cache import LayerCache
    from zerocve.inventory.sources import RegistrySource
    from zerocve.oci.reader import DockerArchiveReader

    try:
        image = select_image(source, platform=platform, ref_name=tag)
        # Read by its manifest before (its digest was just checked): the layers give the same.
        inventories = InventoryCache(cache_dir, seal, cache_max, licenses=licenses)
        if image.digest is not None and not isinstance(source, DockerArchiveReader):
            kept = inventories.load(image.digest, target, name)
            if kept is not None:
                return kept
        cache = LayerCache(INDEX_KEY, cache_dir, seal, cache_max)
        # A registry's downloads draw their own bars; two live bars at once are not allowed.
        tracked = not isinstance(source, RegistrySource)
        count = len(image.layers)
        bar = reporter.task(f"reading {count} layers", total=count) if tracked else None
        with bar or nullcontext(Task()) as task:
            # A registry's layers download as they are read: one at a time, one bar each;
            # an archive's share one file position.
            workers = (os.cpu_count() or 1) if tracked and source.concurrent_reads else 1
            tree = LayeredTree(image.layers, wanted, target, cache=cache, progress=task,
                               workers=workers)
        digest = image.digest
        if isinstance(source, DockerArchiveReader):
            # Its images have no manifest, hence no digest; the config names them.
            name = next(iter(source.tags.get(digest or "", [])), None)
            digest = None
        found = detect(tree, target=target, image_digest=digest, image_name=name,
                       licenses=licenses)
        inventories.store(found)
        return found
    finally:
        source.close()


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def kind_of(target: str) -> tuple[str, str]:
    """(kind, location) for ``target``: kind is one of layout, archive, registry, rootfs,
    sbom. ``UsageError`` when it is none of them."""
    for prefix, kind in _KINDS.items():
        if target.startswith(prefix):
            return kind, target[len(prefix) :]
    path = Path(target)
    if path.is_dir():
        return ("layout" if is_layout(path) else "rootfs"), target
    if path.is_file():
        try:
            with open(path, "rb") as f:
                head = f.read(512)
        except OSError as e:
            raise InventoryError(f"{target}: {e.strerror}") from e
        is_json = head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")
        return ("sbom" if is_json else "archive"), target
    if path.exists():
        raise UsageError(f"{target}: neither a directory nor a regular file")
    if target.startswith(("/", ".", "~")):
        raise UsageError(f"{target}: no such file or directory")
    first = target.split("/", 1)[0]
    if "/" in target and _is_host(first):
        return "registry", target
    raise UsageError(
        f"{target}: no such file or directory (for an image in a registry, write docker://{target})"
    )


def open_inventory(
    target: str,
    *,
    platform: str | None = None,
    reporter: Reporter = NULL_REPORTER,
    cache_dir: Path | None = None,
    cache_max: int | None = None,
    registry: RegistryFactory | None = None,
    licenses: bool = True,
    seal: CacheSeal | None = None,
) -> Inventory:
    """The packages and release of ``target``. ``platform`` (``linux/arm64``) picks an image
    from a multi-platform index (default linux/amd64) and is checked against a
    single-platform image. Raises ``InventoryError`` (no dpkg database), ``ImageError``
    (unreadable or mismatching image), ``RegistryError`` (a pull that failed) or
    ``UsageError`` (TARGET is nothing known, bad platform syntax). What was read from each
    layer is kept below ``cache_dir`` (none: nothing kept), at most ``cache_max`` bytes (none:
    ``layer_cache.DEFAULT_MAX_BYTES``); ``registry`` makes the client for a registry target
    (default: anonymous, no injected transport). ``licenses=False`` leaves out the packages'
    licences, which only SBOMs show (an SBOM target's are kept: they cost nothing there).
    With ``seal`` (``Settings.cache_seal``), an image's whole inventory is kept below
    ``cache_dir`` too, by its manifest digest (``inventory_cache``)."""
    kind, location = kind_of(target)
    if platform is not None:
        Platform.parse(platform)  # a typo is a usage error whatever the target
        if kind in ("rootfs", "sbom"):
            what = "a root filesystem" if kind == "rootfs" else "an SBOM"
            raise UsageError(f"{target}: --platform chooses among images; this is {what}")
    if kind == "rootfs":
        if not Path(location).is_dir():
            raise UsageError(f"{target}: not a directory")
        return detect(DirectoryTree(Path(location)), target=target, licenses=licenses)
    if kind == "sbom":
        try:
            data = Path(location).read_bytes()
        except OSError as e:
            raise InventoryError(f"{location}: {e.strerror}") from e
        from zerocve.inventory.sbom_reader import read_sbom

        return read_sbom(data, target=target)
    source, tag, name = _open_source(kind, location, reporter, registry)
    return _image(source, target, platform, tag, name, reporter, cache_dir, cache_max,
                  licenses, seal)


def inventory_of(
    source: ImageSource,
    *,
    platform: str | None = None,
    reporter: Reporter = NULL_REPORTER,
    cache_dir: Path | None = None,
    cache_max: int | None = None,
    licenses: bool = True,
    seal: CacheSeal | None = None,
) -> Inventory:
    """The packages and release of the image ``source`` holds (an image in memory, say),
    read as ``open_inventory`` reads an image target; the inventory's target is the source's
    description. ``source`` is closed when done."""
    return _image(source, source.description, platform, None, None, reporter, cache_dir,
                  cache_max, licenses, seal)


def _open_source(
    kind: str, location: str, reporter: Reporter, registry: RegistryFactory | None
) -> tuple[ImageSource, str | None, str | None]:
    """The image source of an image target: (source, layout tag, image name)."""
    from zerocve.inventory.sources import RegistrySource
    from zerocve.oci.reader import open_archive, open_layout
    from zerocve.oci.reference import parse_reference

    if kind == "layout":
        directory, tag = _layout_and_tag(location)
        return open_layout(directory), tag, None
    if kind == "archive":
        return open_archive(Path(location)), None, None
    reference = parse_reference(location)
    name = f"{reference.name}:{reference.tag}" if reference.tag else reference.name
    return RegistrySource(location, reporter=reporter, client=registry), None, name


def platforms_of(
    target: str, *, reporter: Reporter = NULL_REPORTER, registry: RegistryFactory | None = None
) -> list[str | None]:
    """Each platform ``target`` offers an image for (``linux/arm64/v8``), in its order, as
    ``open_inventory(platform=...)`` takes them; [None] for a single image, a root filesystem
    or an SBOM. An unreadable image is an error here, as it is for the scan."""
    kind, location = kind_of(target)
    if kind in ("rootfs", "sbom"):
        return [None]
    from zerocve.inventory.images import image_platforms

    source, tag, _ = _open_source(kind, location, reporter, registry)
    try:
        return [str(p) if p else None for p in image_platforms(source, tag)]
    finally:
        source.close()


__all__ = [
    "PREFIXES",
    "inventory_of",
    "kind_of",
    "open_inventory",
    "platforms_of",
    "without_prefix",
]
