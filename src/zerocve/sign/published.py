"""Finding the SBOM published beside an image: its OCI referrer, pushed by ``attest``."""

from __future__ import annotations

from zerocve.inventory.images import DEFAULT_PLATFORM, Platform
from zerocve.oci.reference import Reference
from zerocve.oci.referrers import find_referrer
from zerocve.oci.registry import RegistryClient
from zerocve.sign.targets import resolve_image

SPDX_MEDIA_TYPE = "application/spdx+json"


def published_sbom(client: RegistryClient, ref: Reference, platform: str | None) -> bytes | None:
    """The SPDX document referring to the image ``ref`` names (its ``platform`` manifest, by
    default linux/amd64, for an index), or None when none was published."""
    image = resolve_image(client, ref)
    if not image.platforms:
        # A single image: whether it is for ``platform`` is for the image reader to say.
        digest = image.top.digest if platform is None else None
    else:
        wanted = Platform.parse(platform or DEFAULT_PLATFORM)
        digest = next((t.digest for t in image.platforms
                       if t.platform and wanted.matches(Platform.parse(t.platform))), None)
    if digest is None:
        return None
    return find_referrer(client, ref.repository, digest, SPDX_MEDIA_TYPE)
