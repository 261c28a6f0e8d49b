"""OCI 1.1 referrers: artifacts whose ``subject`` is an image, and how to find them.

An artifact is an image manifest with an ``artifactType``, the empty config, its document
as the one layer, and ``subject`` naming the image. After pushing it, the registry's
referrers API (``GET /v2/<repo>/referrers/<digest>``) is asked whether it now lists it;
a registry without that API (it answers 404, as Debian's docker-registry does) gets the
distribution spec's fallback instead: an image index under the tag ``sha256-<hex>`` that
lists the subject's referrers, updated by read-add-put. Finding reads the API first and the
fallback tag second, as ORAS and cosign do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zerocve.errors import RegistryError
from zerocve.oci.artifacts import digest_tag, read_listing, upload_missing
from zerocve.oci.image import canonical_json
from zerocve.oci.media_types import OCI_INDEX, OCI_MANIFEST
from zerocve.oci.registry import RegistryClient, compute_digest

EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
_EMPTY = b"{}"


@dataclass(frozen=True)
class Subject:
    digest: str
    media_type: str
    size: int


def _index(client: RegistryClient, repo: str, digest: str) -> dict[str, Any] | None:
    """The referrers index of ``digest``: the API's, else the fallback tag's, else None."""
    found = client.get_referrers(repo, digest)
    if found is None:
        found = client.find_manifest(repo, digest_tag(digest), accept=(OCI_INDEX,))
    if found is None:
        return None
    where = f"{client.host}/{repo}: referrers of {digest[:19]}"
    return read_listing(found.body, "manifests", where, RegistryError)


def push_referrer(
    client: RegistryClient,
    repo: str,
    subject: Subject,
    artifact_type: str,
    data: bytes,
    annotations: Mapping[str, str] | None = None,
) -> str:
    """Push ``data`` as an artifact referring to ``subject``; returns the artifact's digest.
    Pushing the same artifact again changes nothing."""
    layer = upload_missing(client, repo, data)
    upload_missing(client, repo, _EMPTY)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": compute_digest(_EMPTY), "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer, "size": len(data)}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest,
                    "size": subject.size},
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    body = canonical_json(manifest)
    digest = client.put_manifest(repo, compute_digest(body), body, OCI_MANIFEST)
    if client.get_referrers(repo, subject.digest) is not None:
        return digest  # the registry indexes referrers itself
    fallback = digest_tag(subject.digest)
    current = client.find_manifest(repo, fallback, accept=(OCI_INDEX,))
    index = (read_listing(current.body, "manifests", f"{client.host}/{repo}:{fallback}",
                          RegistryError) if current is not None else {"manifests": []})
    entries = [e for e in index["manifests"] if isinstance(e, dict)]
    if any(e.get("digest") == digest for e in entries):
        return digest
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                             "artifactType": artifact_type}
    if annotations:
        entry["annotations"] = dict(annotations)
    updated = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                              "manifests": [*entries, entry]})
    client.put_manifest(repo, fallback, updated, OCI_INDEX)
    return digest


def find_referrer(
    client: RegistryClient, repo: str, digest: str, artifact_type: str
) -> bytes | None:
    """The document of the last-listed artifact of ``artifact_type`` referring to
    ``digest`` (checked against its digests), or None when there is none."""
    index = _index(client, repo, digest)
    candidates = [e for e in (index or {}).get("manifests", [])
                  if isinstance(e, dict) and e.get("artifactType") == artifact_type
                  and isinstance(e.get("digest"), str)]
    for entry in reversed(candidates):
        where = f"{client.host}/{repo}@{entry['digest'][:19]}"
        manifest = read_listing(client.get_manifest(repo, entry["digest"],
                                                    accept=(OCI_MANIFEST,)).body,
                                "layers", where, RegistryError)
        subject = manifest.get("subject")
        if not isinstance(subject, dict) or subject.get("digest") != digest:
            continue  # a fallback index that lies about its entries is not believed
        layers = manifest["layers"]
        if (layers and isinstance(layers[0], dict) and isinstance(layers[0].get("digest"), str)
                and isinstance(layers[0].get("size"), int)):
            return client.get_blob(repo, layers[0]["digest"], layers[0]["size"])
    return None
