"""What signing covers: an image's top digest and, for an index, each platform manifest."""

from __future__ import annotations

from dataclasses import dataclass

from zerocve.errors import SigningError
from zerocve.oci.media_types import INDEX_TYPES, MANIFEST_MEDIA_TYPES, MANIFEST_TYPES
from zerocve.oci.reader import Descriptor
from zerocve.oci.reference import Reference
from zerocve.oci.registry import RegistryClient
from zerocve.safe_load import LoadError, load_json


@dataclass(frozen=True)
class Target:
    digest: str
    media_type: str
    size: int
    platform: str | None  # "linux/arm64/v8" for an index entry; None for the top document


@dataclass(frozen=True)
class Image:
    reference: Reference  # pinned to the top digest
    top: Target
    platforms: tuple[Target, ...]  # empty for a single image

    @property
    def all(self) -> tuple[Target, ...]:
        return (self.top, *self.platforms)

    @property
    def manifests(self) -> tuple[Target, ...]:
        """The image manifests: each platform's, or the top one of a single image."""
        return self.platforms or (self.top,)


def _platform(entry: dict[str, object]) -> str | None:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return None
    return "/".join(str(platform[k]) for k in ("os", "architecture", "variant")
                    if platform.get(k))


def resolve_image(client: RegistryClient, ref: Reference, digest: str | None = None) -> Image:
    """The image ``ref`` names (at ``digest`` when given, which it must then resolve to)."""
    fetched = client.get_manifest(ref.repository, digest or ref.reference,
                                  accept=MANIFEST_MEDIA_TYPES)
    where = str(ref.with_digest(fetched.digest))
    try:
        document = load_json(fetched.body)
    except LoadError as e:
        raise SigningError(f"{where}: manifest is not JSON") from e
    if not isinstance(document, dict):
        raise SigningError(f"{where}: manifest is not a JSON object")
    media_type = document.get("mediaType") or fetched.media_type
    top = Target(fetched.digest, media_type, len(fetched.body), None)
    platforms: list[Target] = []
    if media_type in INDEX_TYPES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise SigningError(f"{where}: index without a manifests list")
        for i, entry in enumerate(entries):
            descriptor = Descriptor.parse(entry, f"{where}: manifests[{i}]")
            if descriptor.media_type in MANIFEST_TYPES:
                platforms.append(Target(descriptor.digest, descriptor.media_type,
                                        descriptor.size, _platform(entry)))
    return Image(ref.with_digest(fetched.digest), top, tuple(platforms))
