"""The passphrase envelope cosign puts around a private key, and that skopeo and podman read.

cosign's ``ENCRYPTED SIGSTORE PRIVATE KEY`` (``ENCRYPTED COSIGN PRIVATE KEY`` before it) is a
PEM block whose body is JSON written by go-tuf's ``encrypted`` package: a 32-byte key derived
from the passphrase with scrypt (N=32768, r=8, p=1, 32-byte salt) seals the PKCS#8 DER of the
key in a NaCl secretbox (XSalsa20-Poly1305, 24-byte nonce); byte strings are standard base64::

    {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"…"},
     "cipher":{"name":"nacl/secretbox","nonce":"…"},"ciphertext":"…"}

Keys are written with N=32768 (the only cost older readers, such as the containers/image in
Debian's skopeo, accept); reading also takes the N=65536 and N=131072 that newer cosign
writes, and nothing else: a file asking for a weak or a gigantic scrypt is refused before
any work, as go-tuf does.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from zerocve.safe_load import LoadError, load_json

_SCRYPT = {"N": 32768, "r": 8, "p": 1}
_READABLE_COSTS = (32768, 65536, 131072)
_SALT_SIZE = 32


class EnvelopeError(Exception):
    """The envelope is malformed (``str()`` says how) or the passphrase is wrong."""


class WrongPassphrase(EnvelopeError):
    pass


def _derive(passphrase: bytes, salt: bytes, cost: int = _SCRYPT["N"]) -> bytes:
    kdf = Scrypt(salt=salt, length=nacl.secret.SecretBox.KEY_SIZE, n=cost, r=8, p=1)
    return kdf.derive(passphrase)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(plaintext: bytes, passphrase: bytes) -> bytes:
    """The JSON envelope (compact, as Go writes it) holding ``plaintext``."""
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive(passphrase, salt))
    ciphertext = box.encrypt(plaintext, nonce).ciphertext
    envelope = {
        "kdf": {"name": "scrypt", "params": _SCRYPT, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def _field(document: Any, *path: str) -> Any:
    value = document
    for name in path:
        if not isinstance(value, dict) or name not in value:
            raise EnvelopeError(f"no {'.'.join(path)} in the encrypted key")
        value = value[name]
    return value


def _bytes(document: Any, *path: str) -> bytes:
    value = _field(document, *path)
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, binascii.Error) as e:
        raise EnvelopeError(f"{'.'.join(path)} is not base64") from e


def open_sealed(envelope: bytes, passphrase: bytes) -> bytes:
    """The plaintext inside ``envelope``; ``WrongPassphrase`` when it does not open."""
    try:
        document = load_json(envelope)
    except LoadError as e:
        raise EnvelopeError("the encrypted key is not JSON") from e
    if _field(document, "kdf", "name") != "scrypt":
        raise EnvelopeError(f"unsupported key derivation {_field(document, 'kdf', 'name')!r}")
    params = _field(document, "kdf", "params")
    cost = params.get("N") if isinstance(params, dict) else None
    if params != {**_SCRYPT, "N": cost} or cost not in _READABLE_COSTS:
        raise EnvelopeError(f"unsupported scrypt parameters {params!r}")
    if _field(document, "cipher", "name") != "nacl/secretbox":
        raise EnvelopeError(f"unsupported cipher {_field(document, 'cipher', 'name')!r}")
    salt = _bytes(document, "kdf", "salt")
    nonce = _bytes(document, "cipher", "nonce")
    ciphertext = _bytes(document, "ciphertext")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise EnvelopeError("cipher.nonce is not 24 bytes")
    box = nacl.secret.SecretBox(_derive(passphrase, salt, cost))
    try:
        return box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as e:
        raise WrongPassphrase("wrong passphrase (or a damaged key file)") from e
