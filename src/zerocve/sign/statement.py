"""in-toto Statement v1: the document a DSSE envelope carries, naming what it is about.

``{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name", "digest": {"sha256"}}],
"predicateType", "predicate"}``, serialised with sorted keys so the same facts give the same
bytes (and an unchanged attestation is recognised instead of signed again). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zerocve.errors import SigningError
from zerocve.safe_load import LoadError, load_json

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SPDX = "https://spdx.dev/Document"
CYCLONEDX = "https://cyclonedx.org/bom"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
OPENVEX = "https://openvex.dev/ns"
PREDICATE_NAMES = {SPDX: "spdx", CYCLONEDX: "cyclonedx", SLSA_PROVENANCE: "slsa-provenance",
                   OPENVEX: "openvex"}


@dataclass(frozen=True)
class Subject:
    name: str
    digest: str  # "sha256:<hex>"

    def as_json(self) -> dict[str, Any]:
        algorithm, _, value = self.digest.partition(":")
        return {"name": self.name, "digest": {algorithm: value}}


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    def to_bytes(self) -> bytes:
        document = {
            "_type": STATEMENT_TYPE,
            "subject": [s.as_json() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()


def parse_statement(body: bytes, where: str) -> Statement:
    try:
        document = load_json(body)
    except LoadError as e:
        raise SigningError(f"{where}: the attested statement is not JSON") from e
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE:
        raise SigningError(f"{where}: not an in-toto Statement v1")
    predicate_type, predicate = document.get("predicateType"), document.get("predicate")
    subjects = document.get("subject")
    if not isinstance(predicate_type, str) or not isinstance(predicate, dict):
        raise SigningError(f"{where}: statement without predicateType or predicate")
    if not isinstance(subjects, list) or not subjects:
        raise SigningError(f"{where}: statement without subjects")
    parsed: list[Subject] = []
    for i, subject in enumerate(subjects):
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digests, dict) or not digests:
            raise SigningError(f"{where}: subject[{i}] has no digest")
        name = subject.get("name", "")
        parsed += [Subject(str(name), f"{algorithm}:{value}")
                   for algorithm, value in sorted(digests.items())]
    return Statement(tuple(parsed), predicate_type, predicate)


def about(statement: Statement, digests: Sequence[str]) -> bool:
    """True when one of the statement's subjects is one of ``digests``."""
    return any(subject.digest in digests for subject in statement.subjects)
