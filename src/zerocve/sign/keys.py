"""ECDSA P-256 key pairs in the files cosign writes and cosign, skopeo and podman read.

- private key: the PKCS#8 DER of the key in cosign's passphrase envelope (``_encrypted``),
  as a PEM block ``ENCRYPTED COSIGN PRIVATE KEY``: the type every cosign reads and the only
  one containers/image (skopeo ``--sign-by-sigstore-private-key``) accepted before it also
  learnt ``ENCRYPTED SIGSTORE PRIVATE KEY``, which is read too. A plain or PKCS#8-encrypted
  ``PRIVATE KEY`` PEM (openssl's) is read as well.
- public key: ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo), what a ``sigstoreSigned`` policy's
  ``keyPath`` and ``cosign verify --key`` take.

Signatures are ECDSA over SHA-256, DER-encoded, as cosign makes them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from zerocve.errors import SigningError, UsageError
from zerocve.sign._encrypted import EnvelopeError, WrongPassphrase, open_sealed, seal

COSIGN_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
SIGSTORE_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class PublicKey:
    key: ec.EllipticCurvePublicKey

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def keyid(self) -> str:
        """``sha256:`` of the SubjectPublicKeyInfo DER: names the key in tables and notes."""
        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "sha256:" + hashlib.sha256(der).hexdigest()

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` (DER ECDSA) is this key's signature over ``data``."""
        try:
            self.key.verify(signature, data, _ECDSA_SHA256)
        except (InvalidSignature, ValueError):  # ValueError: not DER at all
            return False
        return True


class Signer(Protocol):
    """What signing needs of a key: ECDSA-SHA256 DER signatures and the public half. A
    ``PrivateKey`` from a file is one; a KMS or PKCS#11 token can be another, without the
    signing code changing."""

    def sign(self, data: bytes) -> bytes: ...

    def public(self) -> PublicKey: ...


@dataclass(frozen=True)
class PrivateKey:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, _ECDSA_SHA256)

    def encrypted_pem(self, passphrase: bytes) -> bytes:
        der = self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return _pem(COSIGN_PEM, seal(der, passphrase))


def _pem(kind: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode("ascii")
    lines = "\n".join(textwrap.wrap(text, 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def read_key_file(path: Path, what: str) -> bytes:
    """The bytes of a key file; one line naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise UsageError(f"{path}: no such {what} file") from e
    except OSError as e:
        raise SigningError(f"{path}: cannot read the {what}: {e.strerror}") from e


def _p256(key: object, path: Path) -> None:
    curve = getattr(key, "curve", None)
    if not isinstance(curve, ec.SECP256R1):
        raise SigningError(f"{path}: not an ECDSA P-256 key (the only kind zerocve signs with)")


def parse_private_key(data: bytes, passphrase: bytes, path: Path) -> PrivateKey:
    """The key in ``data`` (the contents of ``path``, which error messages name)."""
    block = _PEM_BLOCK.search(data)
    if block is None:
        raise SigningError(f"{path}: not a PEM private key")
    kind = block.group(1).decode()
    try:
        if kind in (COSIGN_PEM, SIGSTORE_PEM):
            der = open_sealed(base64.b64decode(block.group(2)), passphrase)
            key = serialization.load_der_private_key(der, password=None)
        elif kind in ("PRIVATE KEY", "EC PRIVATE KEY"):
            key = serialization.load_pem_private_key(block.group(0), password=None)
        elif kind == "ENCRYPTED PRIVATE KEY":
            key = serialization.load_pem_private_key(block.group(0), password=passphrase)
        else:
            raise SigningError(f"{path}: a {kind!r} PEM block is not a private key zerocve reads")
    except WrongPassphrase as e:
        raise SigningError(f"{path}: wrong passphrase for the private key") from e
    except EnvelopeError as e:
        raise SigningError(f"{path}: {e}") from e
    except (ValueError, TypeError) as e:
        # cryptography says "Bad decrypt" and the like for a wrong PKCS#8 passphrase.
        raise SigningError(f"{path}: cannot read the private key (wrong passphrase?)") from e
    _p256(key, path)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return PrivateKey(key)


def load_private_key(path: Path, passphrase: bytes) -> PrivateKey:
    return parse_private_key(read_key_file(path, "private key"), passphrase, path)


def load_public_key(path: Path) -> PublicKey:
    data = read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise SigningError(f"{path}: not a PEM public key (give the .pub file)") from e
    _p256(key, path)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return PublicKey(key)


def write_key_pair(key: PrivateKey, prefix: Path, passphrase: bytes) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (mode 0600) and ``PREFIX.pub``; refuses to replace either."""
    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (private, public):
        if path.exists():
            raise UsageError(f"{path}: already exists; remove it or choose another --output")
    written: list[Path] = []
    try:
        for path, data, mode in (
            (private, key.encrypted_pem(passphrase), 0o600),
            (public, key.public().pem(), 0o644),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            written.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except OSError as e:
        for path in written:  # never leave half a key pair
            path.unlink(missing_ok=True)
        raise SigningError(f"{e.filename or prefix}: cannot write the key: {e.strerror}") from e
    return private, public
