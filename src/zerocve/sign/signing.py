"""Sign an image and attach attestations, cosign-compatibly, without signing twice.

``sign_image`` signs the top digest and each platform manifest (a consumer may pull either);
a digest the key has already signed for this repository is left alone (no new layer, no
tag move: cosign's "skip same"). ``attest`` seals in-toto statements in DSSE envelopes and
attaches each to its digest, skipping a statement the key has already attested with the
same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zerocve.errors import SigningError
from zerocve.oci.registry import RegistryClient
from zerocve.sign import dsse, simplesigning
from zerocve.sign.attachments import ATTESTATIONS, SIGNATURES, Layer, attach, read_attached
from zerocve.sign.keys import PublicKey, Signer
from zerocve.sign.statement import PREDICATE_NAMES, Statement
from zerocve.sign.targets import Image

PREDICATE_TYPE_ANNOTATION = "predicateType"


@dataclass(frozen=True)
class Outcome:
    digest: str
    what: str  # "signature", or an attestation's predicate name
    added: bool  # False: the key had already signed exactly this


def signed_by(layers: Sequence[Layer], key: PublicKey, claim: simplesigning.Claim) -> bool:
    """True when one of ``layers`` is ``key``'s signature of exactly ``claim``."""
    for layer in layers:
        if layer.media_type != simplesigning.MEDIA_TYPE:
            continue
        try:
            signature = base64.b64decode(
                layer.annotations.get(simplesigning.SIGNATURE_ANNOTATION, ""), validate=True
            )
            found = simplesigning.parse_payload(layer.data, "")
        except (ValueError, SigningError):
            continue  # someone else's malformed layer does not stop this key from signing
        if found == claim and key.verifies(signature, layer.data):
            return True
    return False


def sign_digest(client: RegistryClient, image: Image, digest: str, key: Signer) -> Outcome:
    repo = image.reference.repository
    claim = simplesigning.Claim(digest, image.reference.name)
    if signed_by(read_attached(client, repo, digest, SIGNATURES), key.public(), claim):
        return Outcome(digest, "signature", False)
    payload = simplesigning.payload(claim)
    signature = base64.b64encode(key.sign(payload)).decode()
    layer = Layer(simplesigning.MEDIA_TYPE, payload,
                  {simplesigning.SIGNATURE_ANNOTATION: signature})
    attach(client, repo, digest, SIGNATURES, [layer])
    return Outcome(digest, "signature", True)


def sign_image(client: RegistryClient, image: Image, key: Signer) -> list[Outcome]:
    """Sign every digest of ``image`` (see ``targets.resolve_image``)."""
    return [sign_digest(client, image, target.digest, key) for target in image.all]


def _attested_bodies(layers: Sequence[Layer], key: PublicKey) -> set[bytes]:
    bodies = set()
    for layer in layers:
        if layer.media_type != dsse.MEDIA_TYPE:
            continue
        try:
            opened = dsse.open_envelope(layer.data, key, "")
        except SigningError:
            continue
        if opened.signed_by_key:
            bodies.add(opened.body)
    return bodies


def attest(
    client: RegistryClient,
    image: Image,
    statements: Mapping[str, Sequence[Statement]],
    key: Signer,
) -> list[Outcome]:
    """Attach ``statements[digest]`` to each digest, one tag move per digest at most."""
    outcomes: list[Outcome] = []
    repo = image.reference.repository
    for digest, wanted in statements.items():
        done = _attested_bodies(read_attached(client, repo, digest, ATTESTATIONS), key.public())
        new: list[Layer] = []
        for statement in wanted:
            body = statement.to_bytes()
            name = PREDICATE_NAMES.get(statement.predicate_type, statement.predicate_type)
            outcomes.append(Outcome(digest, name, body not in done))
            if body in done:
                continue
            done.add(body)
            new.append(Layer(dsse.MEDIA_TYPE, dsse.seal(body, key), {
                simplesigning.SIGNATURE_ANNOTATION: "",
                PREDICATE_TYPE_ANNOTATION: statement.predicate_type,
            }))
        if new:
            attach(client, repo, digest, ATTESTATIONS, new)
    return outcomes
