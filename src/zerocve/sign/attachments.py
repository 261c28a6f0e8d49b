"""cosign's attachments: an OCI manifest per image digest, under a tag derived from it.

``sha256-<hex>.sig`` holds signatures and ``sha256-<hex>.att`` attestations, one layer
each, the way cosign writes them and cosign, skopeo and podman (``use-sigstore-attachments``)
read them. The config is the empty image config cosign writes, so the artifact is fully
deterministic apart from its layers.

Adding layers reads the current manifest, uploads the new blobs and the config, and only
then moves the tag to the new manifest: a refused or failed push leaves the tag where it
was, never on a manifest whose blobs are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zerocve.errors import RegistryError, SigningError
from zerocve.oci.artifacts import digest_tag, read_listing, upload_missing
from zerocve.oci.image import canonical_json
from zerocve.oci.media_types import OCI_CONFIG, OCI_MANIFEST
from zerocve.oci.registry import RegistryClient

SIGNATURES = ".sig"
ATTESTATIONS = ".att"
MAX_LAYER = 32 << 20
"""An attachment layer larger than this is refused before it is downloaded."""
_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Layer:
    media_type: str
    data: bytes
    annotations: Mapping[str, str] = field(default_factory=dict)


def _manifest(client: RegistryClient, repo: str, tag: str) -> dict[str, Any] | None:
    found = client.find_manifest(repo, tag, accept=(OCI_MANIFEST,))
    if found is None:
        return None
    return read_listing(found.body, "layers", f"{client.host}/{repo}:{tag}: manifest",
                        SigningError)


def read_attached(client: RegistryClient, repo: str, digest: str, suffix: str) -> list[Layer]:
    """Every layer attached to ``digest`` under ``suffix`` (none when the tag is absent),
    each blob checked against its descriptor's digest."""
    tag = digest_tag(digest, suffix)
    document = _manifest(client, repo, tag)
    layers: list[Layer] = []
    for i, descriptor in enumerate(document["layers"] if document else ()):
        where = f"{client.host}/{repo}:{tag}: layers[{i}]"
        if not isinstance(descriptor, dict):
            raise SigningError(f"{where}: not a descriptor")
        blob, size = descriptor.get("digest"), descriptor.get("size")
        if not isinstance(blob, str) or not isinstance(size, int):
            raise SigningError(f"{where}: descriptor without digest or size")
        if size > MAX_LAYER:
            raise SigningError(f"{where}: {size} bytes, larger than {MAX_LAYER} allowed")
        try:
            data = client.get_blob(repo, blob, size)
        except RegistryError as e:
            raise SigningError(f"{where}: {e}") from e
        annotations = descriptor.get("annotations") or {}
        layers.append(Layer(str(descriptor.get("mediaType", "")), data,
                            {str(k): str(v) for k, v in annotations.items()}))
    return layers


def attach(
    client: RegistryClient, repo: str, digest: str, suffix: str, new: Sequence[Layer]
) -> str:
    """Add ``new`` to the layers attached to ``digest``; returns the tag's new manifest
    digest. Blobs and config go first, the tag moves last."""
    tag = digest_tag(digest, suffix)
    current = _manifest(client, repo, tag)
    descriptors: list[dict[str, Any]] = list(current["layers"]) if current else []
    for layer in new:
        blob = upload_missing(client, repo, layer.data)
        descriptor: dict[str, Any] = {
            "mediaType": layer.media_type, "size": len(layer.data), "digest": blob,
        }
        if layer.annotations:
            descriptor["annotations"] = dict(layer.annotations)
        descriptors.append(descriptor)
    config = canonical_json({
        "architecture": "", "os": "", "config": {}, "created": _ZERO_TIME,
        "history": [{"created": _ZERO_TIME}],
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
    })
    config_digest = upload_missing(client, repo, config)
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": descriptors,
    })
    return client.put_manifest(repo, tag, manifest, OCI_MANIFEST)
