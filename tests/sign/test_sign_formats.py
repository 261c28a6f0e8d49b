"""The pure formats against their specifications' own examples."""

from __future__ import annotations

import json

import pytest

from zerocve.errors import SigningError
from zerocve.sign import dsse, simplesigning
from zerocve.sign.keys import PrivateKey, PublicKey, Signer
from zerocve.sign.statement import SPDX, Statement, Subject, parse_statement


def test_pae_is_the_dsse_specification_example():
    # DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world").
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")


def test_envelope_round_trip_and_refusals():
    key, stranger = PrivateKey.generate(), PrivateKey.generate()
    sealed = dsse.seal(b'{"x":1}', key)
    assert dsse.open_envelope(sealed, key.public(), "e").signed_by_key
    assert not dsse.open_envelope(sealed, stranger.public(), "e").signed_by_key
    forged = json.loads(sealed)
    forged["payloadType"] = "text/plain"  # the type is signed too (PAE), not only the body
    assert not dsse.open_envelope(json.dumps(forged).encode(), key.public(), "e").signed_by_key
    with pytest.raises(SigningError, match="e: DSSE envelope is not JSON"):
        dsse.open_envelope(sealed[:40], key.public(), "e")
    with pytest.raises(SigningError, match="e: DSSE envelope has no signatures"):
        dsse.open_envelope(json.dumps({**forged, "signatures": []}).encode(), key.public(), "e")


def test_payload_is_cosigns_bytes_and_parses_back():
    claim = simplesigning.Claim("sha256:" + "a" * 64, "127.0.0.1:5000/team/app")
    assert simplesigning.payload(claim) == (
        b'{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/team/app"},'
        b'"image":{"docker-manifest-digest":"sha256:' + b"a" * 64 + b'"},'
        b'"type":"cosign container image signature"},"optional":null}')
    assert simplesigning.parse_payload(simplesigning.payload(claim), "p") == claim
    with pytest.raises(SigningError, match="p: signature type 'x'"):
        simplesigning.parse_payload(
            simplesigning.payload(claim).replace(b"cosign container image signature", b"x"), "p")


def test_statement_bytes_are_stable_and_parse_back():
    statement = Statement((Subject("r/app", "sha256:" + "b" * 64),), SPDX, {"b": 2, "a": 1})
    again = Statement((Subject("r/app", "sha256:" + "b" * 64),), SPDX, {"a": 1, "b": 2})
    assert statement.to_bytes() == again.to_bytes()
    assert parse_statement(statement.to_bytes(), "s") == again
    with pytest.raises(SigningError, match="s: not an in-toto Statement v1"):
        parse_statement(b'{"_type": "https://in-toto.io/Statement/v0.1"}', "s")


class Token:
    """A key that only signs and shows its public half, as a KMS or PKCS#11 token does."""

    def __init__(self) -> None:
        self._key = PrivateKey.generate()
        self.calls = 0

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(data)

    def public(self) -> PublicKey:
        return self._key.public()


def test_any_signer_seals():
    token = Token()
    signer: Signer = token
    sealed = dsse.seal(b'{"x":1}', signer)
    assert token.calls == 1
    assert dsse.open_envelope(sealed, token.public(), "e").signed_by_key
