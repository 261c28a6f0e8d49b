"""Signing: keys, cosign-compatible signatures, in-toto attestations, verification.

The library functions every caller uses (``zerocve sign``, ``publish --sign``, the fleet's
promotion):

- ``sign_image(client, ref, digest, key)``: sign the image's top digest and each platform
  manifest; digests the key already signed are left alone;
- ``attest(client, ref, digest, key, build=..., vex=...)``: SBOM (SPDX, CycloneDX),
  provenance and VEX attestations, and the SPDX SBOM as an OCI referrer of each manifest;
- ``sign_and_attest(...)``: both, the signature last (what publish and promotion call);
- ``verify(client, ref, key)``: a ``Report`` of every check;
- keys: ``PrivateKey.generate``, ``write_key_pair``, ``load_private_key``,
  ``load_public_key``; signing takes any ``Signer`` (the hook for a KMS or PKCS#11 key).

Layout: ``keys`` (and ``_encrypted``, cosign's passphrase envelope), ``simplesigning`` and
``dsse`` and ``statement`` and ``provenance`` (pure formats), ``attachments`` (the
``.sig``/``.att`` tags), ``targets`` (which digests an image has), ``signing``,
``evidence`` (what is attested), ``verify``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zerocve.oci.reference import Reference
from zerocve.oci.referrers import Subject as ReferrerSubject
from zerocve.oci.referrers import push_referrer
from zerocve.oci.registry import RegistryClient
from zerocve.sign.evidence import BuildRecord, sbom_documents, statements
from zerocve.sign.keys import (
    PrivateKey,
    PublicKey,
    Signer,
    load_private_key,
    load_public_key,
    write_key_pair,
)
from zerocve.sign.published import SPDX_MEDIA_TYPE, published_sbom
from zerocve.sign.signing import Outcome
from zerocve.sign.signing import attest as _attach
from zerocve.sign.signing import sign_image as _sign_all
from zerocve.sign.targets import Image, resolve_image
from zerocve.sign.verify import Check, Report, verify_image


def sign_image(
    client: RegistryClient, ref: Reference, digest: str | None, key: Signer
) -> list[Outcome]:
    """Sign ``ref`` (at ``digest`` when given): its top digest and every platform manifest."""
    return _sign_all(client, resolve_image(client, ref, digest), key)


def attest(
    client: RegistryClient,
    ref: Reference,
    digest: str | None,
    key: Signer,
    *,
    build: BuildRecord | None = None,
    vex: Mapping[str | None, Sequence[dict[str, Any]]] | None = None,
) -> list[Outcome]:
    """Attach the SBOM, provenance (with ``build``) and VEX attestations of ``ref``, and
    push each manifest's SPDX SBOM as its OCI referrer. Unchanged statements are skipped."""
    image = resolve_image(client, ref, digest)
    lock = build.lock if build is not None else None
    sboms = {target.digest: sbom_documents(client, image, target, lock)
             for target in image.manifests}
    outcomes = _attach(client, image, statements(image, sboms, build, vex or {}), key)
    for target in image.manifests:
        push_referrer(client, image.reference.repository,
                      ReferrerSubject(target.digest, target.media_type, target.size),
                      SPDX_MEDIA_TYPE, sboms[target.digest][0].encode())
    return outcomes


def sign_and_attest(
    client: RegistryClient,
    ref: Reference,
    digest: str | None,
    key: Signer,
    *,
    build: BuildRecord | None = None,
    vex: Mapping[str | None, Sequence[dict[str, Any]]] | None = None,
) -> list[Outcome]:
    """``attest`` then ``sign_image``: the signature goes last, so a failure leaves the image
    unsigned rather than signed without the evidence it was meant to carry."""
    attested = attest(client, ref, digest, key, build=build, vex=vex)
    return sign_image(client, ref, digest, key) + attested


def verify(client: RegistryClient, ref: Reference, key: PublicKey) -> Report:
    return verify_image(client, resolve_image(client, ref), key)


__all__ = [
    "BuildRecord",
    "Check",
    "Image",
    "Outcome",
    "PrivateKey",
    "PublicKey",
    "Report",
    "Signer",
    "attest",
    "load_private_key",
    "load_public_key",
    "published_sbom",
    "resolve_image",
    "sign_and_attest",
    "sign_image",
    "verify",
    "write_key_pair",
]
