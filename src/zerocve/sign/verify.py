"""Check an image's signatures and attestations against a public key. Registry reads only.

Every digest of the image (the index and each platform manifest) must carry a signature by
the key whose payload names exactly that digest and this repository; every attestation
attached to a digest must be a well-formed DSSE envelope signed by the key, holding an
in-toto statement whose subject is that digest. Each finding is a ``Check`` value; nothing
here raises for a check that fails (a registry that cannot be read does raise).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zerocve.errors import SigningError
from zerocve.oci.registry import RegistryClient
from zerocve.sign import dsse, simplesigning
from zerocve.sign.attachments import ATTESTATIONS, SIGNATURES, Layer, read_attached
from zerocve.sign.keys import PublicKey
from zerocve.sign.statement import (
    CYCLONEDX,
    OPENVEX,
    PREDICATE_NAMES,
    SLSA_PROVENANCE,
    SPDX,
    Statement,
    about,
    parse_statement,
)
from zerocve.sign.targets import Image, Target


@dataclass(frozen=True)
class Check:
    digest: str
    platform: str | None
    kind: str  # "signature", an attestation's predicate name, or "rebuild"
    ok: bool
    detail: str


@dataclass(frozen=True)
class Attested:
    digest: str
    statement: Statement


@dataclass(frozen=True)
class Report:
    reference: str  # REGISTRY/REPO[:TAG]@DIGEST
    digest: str  # the top digest (an index's, or the single manifest's)
    checks: tuple[Check, ...]
    attested: tuple[Attested, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)


def _signature_check(layers: list[Layer], key: PublicKey, target: Target, identity: str) -> Check:
    reasons: list[str] = []
    for i, layer in enumerate(layers):
        if layer.media_type != simplesigning.MEDIA_TYPE:
            continue
        encoded = layer.annotations.get(simplesigning.SIGNATURE_ANNOTATION, "")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            reasons.append(f"signature {i}: annotation is not base64")
            continue
        if not key.verifies(signature, layer.data):
            reasons.append(f"signature {i}: not made by this key (or payload altered)")
            continue
        try:
            claim = simplesigning.parse_payload(layer.data, f"signature {i}")
        except SigningError as e:
            reasons.append(str(e))
            continue
        if claim.digest != target.digest:
            reasons.append(f"signature {i}: signs {claim.digest}, not this digest")
        elif claim.identity != identity:
            reasons.append(f"signature {i}: signs {claim.identity}, not {identity}")
        else:
            return Check(target.digest, target.platform, "signature", True,
                         f"signed by {key.keyid[:19]}")
    detail = "; ".join(reasons) if reasons else "no signature"
    return Check(target.digest, target.platform, "signature", False, detail)


def _attestation_checks(
    layers: list[Layer], key: PublicKey, target: Target
) -> tuple[list[Check], list[Attested]]:
    checks: list[Check] = []
    attested: list[Attested] = []
    for i, layer in enumerate(layers):
        if layer.media_type != dsse.MEDIA_TYPE:
            continue
        declared = layer.annotations.get("predicateType", "")
        name = PREDICATE_NAMES.get(declared, declared or f"attestation {i}")

        def failed(detail: str, name: str = name) -> None:
            checks.append(Check(target.digest, target.platform, name, False, detail))

        try:
            opened = dsse.open_envelope(layer.data, key, f"attestation {i}")
            statement = parse_statement(opened.body, f"attestation {i}")
        except SigningError as e:
            failed(str(e))
            continue
        name = PREDICATE_NAMES.get(statement.predicate_type, statement.predicate_type)
        if not opened.signed_by_key:
            failed(f"attestation {i}: envelope not signed by this key", name)
        elif opened.payload_type != dsse.IN_TOTO_PAYLOAD:
            failed(f"attestation {i}: payload type {opened.payload_type!r}", name)
        elif declared and declared != statement.predicate_type:
            failed(f"attestation {i}: annotated {declared}, carries {statement.predicate_type}",
                   name)
        elif not about(statement, [target.digest]):
            subjects = ", ".join(s.digest[:19] for s in statement.subjects)
            failed(f"attestation {i}: subject is {subjects}, not this digest", name)
        else:
            checks.append(Check(target.digest, target.platform, name, True,
                                summary(statement.predicate_type, statement.predicate)))
            attested.append(Attested(target.digest, statement))
    return checks, attested


def verify_image(client: RegistryClient, image: Image, key: PublicKey) -> Report:
    checks: list[Check] = []
    attested: list[Attested] = []
    repo = image.reference.repository
    for target in image.all:
        signatures = read_attached(client, repo, target.digest, SIGNATURES)
        checks.append(_signature_check(signatures, key, target, image.reference.name))
        found, statements = _attestation_checks(
            read_attached(client, repo, target.digest, ATTESTATIONS), key, target
        )
        checks += found
        attested += statements
    return Report(str(image.reference), image.top.digest, tuple(checks), tuple(attested))


def _spdx(predicate: Mapping[str, Any]) -> str:
    return f"SPDX {predicate.get('spdxVersion', '?')}: {len(predicate.get('packages') or [])} " \
           "packages"


def _cyclonedx(predicate: Mapping[str, Any]) -> str:
    return f"CycloneDX {predicate.get('specVersion', '?')}: " \
           f"{len(predicate.get('components') or [])} components"


def _provenance(predicate: Mapping[str, Any]) -> str:
    definition = predicate.get("buildDefinition") or {}
    dependencies = definition.get("resolvedDependencies") or []
    debs = sum(1 for d in dependencies if isinstance(d, dict)
               and str(d.get("uri", "")).endswith(".deb"))
    version = ((predicate.get("runDetails") or {}).get("builder") or {}).get("version") or {}
    spec = (definition.get("externalParameters") or {}).get("spec") or {}
    return f"SLSA v1: {spec.get('name', '?')}, {debs} .debs, built by zerocve " \
           f"{version.get('zerocve', '?')}"


def _openvex(predicate: Mapping[str, Any]) -> str:
    return f"OpenVEX: {len(predicate.get('statements') or [])} statements"


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    SPDX: _spdx,
    CYCLONEDX: _cyclonedx,
    SLSA_PROVENANCE: _provenance,
    OPENVEX: _openvex,
}


def summary(predicate_type: str, predicate: Mapping[str, Any]) -> str:
    """One line saying what an attestation states."""
    describe = _SUMMARIES.get(predicate_type)
    try:
        return describe(predicate) if describe else predicate_type
    except (AttributeError, TypeError):
        return f"{predicate_type} (unexpected shape)"
