"""Choose one platform's image and its layers, wherever the image is stored.

Layouts, archives and registries differ only in where bytes come from (a ``blobs/``
directory or tar members, read by ``zerocve.oci.reader``; the distribution API,
``sources``), so each is a small ``ImageSource``; choosing the manifest (through nested
indexes, by platform, skipping attestations and other artifacts) is written once, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zerocve.errors import ImageError
from zerocve.oci.media_types import ANNOTATION_REF_NAME as REF_NAME
from zerocve.oci.media_types import IMAGE_CONFIG_TYPES, INDEX_TYPES, MANIFEST_TYPES
from zerocve.oci.platform import Platform
from zerocve.oci.reader import BlobSource, ImageSource

DEFAULT_PLATFORM = "linux/amd64"
_MAX_NESTING = 4


def descriptor_size(descriptor: dict[str, Any], where: str) -> int:
    """The ``size`` a descriptor declares: a count of bytes, which is all a registry may
    send for it."""
    size = descriptor.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{where} {descriptor.get('digest')}: invalid size {size!r}")
    return size


@dataclass(frozen=True)
class SelectedImage:
    digest: str | None  # the manifest's digest (None only for a bare manifest without one)
    manifest: dict[str, Any]
    layers: tuple[BlobSource, ...]


def _candidates(
    source: ImageSource, document: dict[str, Any], ref_name: str | None, depth: int = 0
) -> Iterator[tuple[str, Platform | None]]:
    """(manifest digest, declared platform) of every image manifest under an index."""
    if depth > _MAX_NESTING:
        raise ImageError(f"{source.description}: indexes nested too deep")
    entries = document.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"{source.description}: index has no 'manifests' list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            raise ImageError(f"{source.description}: index entry without a digest")
        annotations = entry.get("annotations") or {}
        if depth == 0 and ref_name is not None and annotations.get(REF_NAME) != ref_name:
            continue
        media_type = entry.get("mediaType", "")
        if media_type in INDEX_TYPES:
            nested = source.manifest(entry["digest"])
            yield from _candidates(source, nested, None, depth + 1)
        elif media_type in MANIFEST_TYPES:
            yield entry["digest"], Platform.from_json(entry.get("platform"))


def _is_image(manifest: dict[str, Any]) -> bool:
    config = manifest.get("config")
    return isinstance(config, dict) and config.get("mediaType") in IMAGE_CONFIG_TYPES


def image_platforms(source: ImageSource, ref_name: str | None = None) -> list[Platform | None]:
    """The platforms of the images ``source`` offers, in its order; [None] when it holds a
    single image (a bare manifest, or an index over one image)."""
    document, _ = source.root()
    if document.get("mediaType", "") in MANIFEST_TYPES or (
        "layers" in document and "manifests" not in document
    ):
        return [None]
    found = [
        platform
        for candidate, platform in _candidates(source, document, ref_name)
        if _is_image(source.manifest(candidate))
    ]
    return found if len(found) > 1 else [None]


def select_image(
    source: ImageSource, *, platform: str | None = None, ref_name: str | None = None
) -> SelectedImage:
    """The image manifest for ``platform`` (default linux/amd64 when several are offered)."""
    wanted = Platform.parse(platform) if platform else None
    document, digest = source.root()
    media_type = document.get("mediaType", "")
    declared: Platform | None = None
    if media_type in MANIFEST_TYPES or ("layers" in document and "manifests" not in document):
        chosen: tuple[str | None, dict[str, Any]] = (digest, document)
    else:
        found: list[tuple[str, Platform | None, dict[str, Any]]] = []
        for candidate, platform_of in _candidates(source, document, ref_name):
            manifest = source.manifest(candidate)
            if _is_image(manifest):  # attestations and signatures are manifests too
                found.append((candidate, platform_of, manifest))
        if not found:
            what = f"tagged {ref_name!r}" if ref_name else "at all"
            raise ImageError(f"{source.description}: no image manifest {what}")
        request = wanted or Platform.parse(DEFAULT_PLATFORM)
        matching = [f for f in found if f[1] is None or request.matches(f[1])]
        if len(found) == 1 and (wanted is None or matching):
            matching = found
        if not matching:
            offered = ", ".join(sorted({str(f[1]) for f in found if f[1] is not None}))
            raise ImageError(
                f"{source.description}: no image for platform {request} (offered: {offered}); "
                "choose one with --platform"
            )
        chosen, declared = (matching[0][0], matching[0][2]), matching[0][1]
    if wanted is not None and declared is None:
        # Nothing outside the image says its platform: its config does.
        config = chosen[1].get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            raise ImageError(f"{source.description}: manifest {chosen[0]} has no config")
        size = descriptor_size(config, f"{source.description}: config")
        declared = Platform.from_json(source.config(config["digest"], size))
        if declared is None or not wanted.matches(declared):
            raise ImageError(
                f"{source.description}: the image is for {declared}, not for {wanted}"
            )
    manifest = chosen[1]
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and isinstance(layer.get("digest"), str) for layer in layers
    ):
        raise ImageError(f"{source.description}: manifest {chosen[0]} has no valid 'layers'")
    where = f"{source.description}: layer"
    return SelectedImage(
        chosen[0],
        manifest,
        tuple(source.layer(layer["digest"], descriptor_size(layer, where)) for layer in layers),
    )


__all__ = [
    "DEFAULT_PLATFORM",
    "Platform",
    "SelectedImage",
    "image_platforms",
    "select_image",
]
