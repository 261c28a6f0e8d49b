"""What the two ways of attaching documents to an image share: OCI 1.1 referrers with their
fallback tag (``zerocve.oci.referrers``) and cosign's ``.sig``/``.att`` tags
(``zerocve.sign.attachments``). Both name a tag after the subject's digest, upload blobs
the registry lacks, and read back a JSON manifest or index that must hold a list."""

from __future__ import annotations

from typing import Any

from zerocve.errors import ZerocveError
from zerocve.oci.registry import RegistryClient, compute_digest
from zerocve.safe_load import LoadError, load_json


def digest_tag(digest: str, suffix: str = "") -> str:
    """``sha256:<hex>`` → the tag ``sha256-<hex>`` + ``suffix`` (``.sig``, ``.att``; none for
    the referrers fallback)."""
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}-{value}{suffix}"


def upload_missing(client: RegistryClient, repo: str, data: bytes) -> str:
    """Upload ``data`` as a blob of ``repo`` unless the registry holds it; its digest."""
    digest = compute_digest(data)
    if not client.blob_exists(repo, digest):
        client.upload_blob(repo, digest, data)
    return digest


def read_listing(
    body: bytes, key: str, where: str, error: type[ZerocveError]
) -> dict[str, Any]:
    """A manifest or index from the registry: a JSON object whose ``key`` (``layers``,
    ``manifests``) is a list; anything else is ``error`` naming ``where``."""
    try:
        document = load_json(body)
    except LoadError as e:
        raise error(f"{where}: not JSON ({e})") from e
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise error(f"{where}: no {key!r} list")
    return document


__all__ = ["digest_tag", "read_listing", "upload_missing"]
