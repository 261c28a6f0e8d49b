"""DSSE envelopes (the signature wrapper of in-toto attestations), as cosign attaches them.

An envelope is JSON ``{"payloadType", "payload": base64, "signatures": [{"keyid", "sig"}]}``
and each signature is over the pre-authentication encoding
``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body``, never over the
JSON. ``keyid`` is left empty, as cosign leaves it: the verifier is given the key. Pure.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from zerocve.errors import SigningError
from zerocve.safe_load import LoadError, load_json
from zerocve.sign.keys import PublicKey, Signer

MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"


def pae(payload_type: str, body: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def seal(body: bytes, key: Signer, payload_type: str = IN_TOTO_PAYLOAD) -> bytes:
    signature = key.sign(pae(payload_type, body))
    envelope = {
        "payloadType": payload_type,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Opened:
    payload_type: str
    body: bytes
    signed_by_key: bool  # True when one of its signatures is the key's


def _b64(value: object, what: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise SigningError(f"{where}: DSSE envelope {what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as e:
        raise SigningError(f"{where}: DSSE envelope {what} is not base64") from e


def open_envelope(data: bytes, key: PublicKey, where: str) -> Opened:
    """Parse an envelope and check its signatures against ``key``. A malformed or truncated
    envelope is a ``SigningError`` naming ``where``; a signature by another key is not: it
    yields ``signed_by_key=False`` for the caller to report."""
    try:
        envelope = load_json(data)
    except LoadError as e:
        raise SigningError(f"{where}: DSSE envelope is not JSON (truncated?)") from e
    if not isinstance(envelope, dict):
        raise SigningError(f"{where}: DSSE envelope is not a JSON object")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise SigningError(f"{where}: DSSE envelope has no payloadType")
    body = _b64(envelope.get("payload"), "payload", where)
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise SigningError(f"{where}: DSSE envelope has no signatures")
    message = pae(payload_type, body)
    signed = False
    for i, entry in enumerate(signatures):
        if not isinstance(entry, dict):
            raise SigningError(f"{where}: DSSE envelope signatures[{i}] is not an object")
        signed = signed or key.verifies(_b64(entry.get("sig"), f"signatures[{i}].sig", where),
                                        message)
    return Opened(payload_type, body, signed)
