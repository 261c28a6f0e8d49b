"""The cosign simple-signing payload: what a cosign, skopeo or podman signature signs.

A signature is ECDSA over these exact bytes (cosign's layout, compact JSON)::

    {"critical":{"identity":{"docker-reference":"REGISTRY/REPO"},
                 "image":{"docker-manifest-digest":"sha256:…"},
                 "type":"cosign container image signature"},"optional":null}

The identity is the repository without a tag, as cosign writes it, so one signature holds
for every tag of the digest; a ``sigstoreSigned`` policy matches it with
``"signedIdentity": {"type": "matchRepository"}``. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from zerocve.errors import SigningError
from zerocve.safe_load import LoadError, load_json

MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"


@dataclass(frozen=True)
class Claim:
    """What a payload says: this manifest digest is an image of this repository."""

    digest: str
    identity: str


def payload(claim: Claim) -> bytes:
    document = {
        "critical": {
            "identity": {"docker-reference": claim.identity},
            "image": {"docker-manifest-digest": claim.digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def parse_payload(data: bytes, where: str) -> Claim:
    """The claim of a payload; ``SigningError`` naming ``where`` when it is not one."""
    try:
        document = load_json(data)
        critical = document["critical"]
        kind = critical["type"]
        digest = critical["image"]["docker-manifest-digest"]
        identity = critical["identity"]["docker-reference"]
    except (LoadError, LookupError, TypeError) as e:
        raise SigningError(f"{where}: not a cosign simple-signing payload") from e
    if kind != SIGNATURE_TYPE:
        raise SigningError(f"{where}: signature type {kind!r}, not {SIGNATURE_TYPE!r}")
    if not isinstance(digest, str) or not isinstance(identity, str):
        raise SigningError(f"{where}: payload digest and identity must be strings")
    return Claim(digest, identity)
