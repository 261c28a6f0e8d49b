"""Release signatures, checked with ``gpgv`` against one keyring.

Only what gpgv itself verified is returned (``--output -``), and an InRelease with any text
before or after its one clearsigned block is refused, as apt refuses it. A signature counts when
gpgv reports a good signature from the keyring made with a strong digest, and no bad one, as apt
decides (apt calls MD5, SHA1 and RIPEMD160 untrusted: a collision forges a Release).
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zerocve.errors import SignatureError

_CLEARSIGN_HEADER = b"-----BEGIN PGP SIGNED MESSAGE-----"
_SIGNATURE_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
_SIGNATURE_END = b"-----END PGP SIGNATURE-----"
# OpenPGP hash algorithm ids (RFC 4880 9.4, RFC 9580) a Release signature may use: SHA-2 and
# SHA-3. Anything else (1 MD5, 2 SHA1, 3 RIPEMD160, unknown) is refused.
_STRONG_DIGESTS = {"8": "SHA256", "9": "SHA384", "10": "SHA512", "11": "SHA224",
                   "12": "SHA3-256", "14": "SHA3-512"}
_DIGEST_NAMES = {"1": "MD5", "2": "SHA1", "3": "RIPEMD160"}


@dataclass(frozen=True)
class _Status:
    good: tuple[str, ...]  # fingerprints (VALIDSIG)
    digests: tuple[str, ...]  # the hash algorithm id of each good signature
    bad: tuple[str, ...]  # key ids with a signature that does not match the data
    unknown: tuple[str, ...]  # key ids (or fingerprints) missing from the keyring
    expired_or_revoked: tuple[str, ...]


def _parse_status(text: str) -> _Status:
    good: list[str] = []
    digests: list[str] = []
    bad: list[str] = []
    unknown: list[str] = []
    stale: list[str] = []
    for line in text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        token, *args = line.removeprefix("[GNUPG:] ").split()
        if token == "VALIDSIG" and args:
            # VALIDSIG fpr date timestamp expiry version reserved pubkey-algo hash-algo ...
            good.append(args[0])
            digests.append(args[7] if len(args) > 7 else "?")
        elif token == "BADSIG" and args:
            bad.append(args[0])
        elif token == "ERRSIG" and len(args) >= 6 and args[5] == "9":
            # rc 9: no public key; the fingerprint follows when the signature carries it
            unknown.append(args[6] if len(args) > 6 and args[6] != "-" else args[0])
        elif token in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG") and args:
            stale.append(args[0])
    return _Status(tuple(good), tuple(digests), tuple(bad), tuple(unknown), tuple(stale))


def _gpgv(
    args: list[str], keyring: Path, what: str, tmp: Path, stdin: bytes | None = None
) -> bytes:
    """gpgv's output (what it verified), or SignatureError when no good signature holds."""
    binary = binary_keyring(keyring, what, tmp)
    command = [
        "gpgv", "--homedir", str(tmp), "--status-fd", "2", "--keyring", str(binary), *args,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, check=False)
    except FileNotFoundError as e:
        raise SignatureError(f"{what}: gpgv is not installed (apt-get install gpgv)") from e
    status = _parse_status(done.stderr.decode(errors="replace"))
    if status.bad:
        raise SignatureError(f"{what}: BAD signature by key {status.bad[0]}; the file was altered")
    if not status.good:
        if status.unknown:
            raise SignatureError(
                f"{what} signed by unknown key {status.unknown[0]} (not in {keyring}); "
                "pass the right keyring"
            )
        if status.expired_or_revoked:
            raise SignatureError(
                f"{what}: signed by expired or revoked key {status.expired_or_revoked[0]}"
            )
        lines = done.stderr.decode(errors="replace").splitlines()
        detail = next((ln for ln in lines if not ln.startswith("[GNUPG:]")), "no signature")
        raise SignatureError(f"{what}: signature not verified: {detail.removeprefix('gpgv: ')}")
    weak = next((d for d in status.digests if d not in _STRONG_DIGESTS), None)
    if weak is not None:
        name = _DIGEST_NAMES.get(weak, f"algorithm {weak}")
        raise SignatureError(
            f"{what}: signed with the weak digest {name}, which apt does not trust; the "
            "repository must sign with SHA256 or stronger"
        )
    return done.stdout


def binary_keyring(keyring: Path, what: str, tmp: Path) -> Path:
    """gpgv reads binary keyrings only: an ASCII-armored one is dearmored into ``tmp``."""
    keyring = keyring.absolute()  # gpgv looks up bare names in its home directory
    try:
        head = keyring.read_bytes()[:64]
    except OSError as e:
        raise SignatureError(f"{keyring}: cannot read keyring for {what}: {e.strerror}") from e
    if not head.lstrip().startswith(b"-----BEGIN PGP"):
        return keyring
    out = tmp / "keyring.gpg"
    try:
        done = subprocess.run(
            ["gpg", "--batch", "--homedir", str(tmp), "--dearmor", "--output", str(out),
             str(keyring)],
            capture_output=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as e:
        raise SignatureError(
            f"{keyring}: gpg is not installed to read it (apt-get install gpg)"
        ) from e
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["gpg failed"]
        raise SignatureError(f"{keyring}: not a valid armored keyring: {lines[-1]}")
    return out


def verify_clearsigned(data: bytes, keyring: Path, what: str) -> bytes:
    """The signed text of a clearsigned file (InRelease), as gpgv verified it."""
    if data.count(_CLEARSIGN_HEADER) != 1 or not data.lstrip().startswith(_CLEARSIGN_HEADER):
        raise SignatureError(f"{what}: not one clearsigned message")
    if data.count(_SIGNATURE_BEGIN) != 1 or data.count(_SIGNATURE_END) != 1:
        raise SignatureError(f"{what}: not one clearsigned message")
    if data.partition(_SIGNATURE_END)[2].strip():
        raise SignatureError(
            f"{what}: text after the signature, outside the signed part; refused as apt does"
        )
    with tempfile.TemporaryDirectory(prefix="zerocve-gpgv-") as tmp:
        text = _gpgv(["--output", "-", "-"], keyring, what, Path(tmp), stdin=data)
    return text


def verify_detached(data: bytes, signature: bytes, keyring: Path, what: str) -> bytes:
    """``data`` (a Release file) once its detached signature (Release.gpg) verifies."""
    with tempfile.TemporaryDirectory(prefix="zerocve-gpgv-") as tmp:
        sig, body = Path(tmp) / "Release.gpg", Path(tmp) / "Release"
        sig.write_bytes(signature)
        body.write_bytes(data)
        _gpgv([str(sig), str(body)], keyring, what, Path(tmp))
    return data


# Keyring bytes' SHA256 -> what gpg listed of them. A build asks twice (its verified-lock
# record, its receipt) and a mirror and its security archive share one keyring: gpg, some
# 50 ms a run, lists each keyring once per process.
_EXPIRIES: dict[bytes, tuple[int, ...] | None] = {}


def key_expiries(keyring: Path) -> list[int] | None:
    """When each key and subkey of ``keyring`` expires (seconds since the epoch; keys that
    never expire are left out), as ``gpg --show-keys`` lists them; None when gpg cannot read
    the keyring. A verdict of gpgv holds only while the key that gave it is valid: whoever
    keeps one must ask again once one of these dates has passed."""
    try:
        data = keyring.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).digest()
    if digest not in _EXPIRIES:
        _EXPIRIES[digest] = _listed_expiries(data)
    found = _EXPIRIES[digest]
    return None if found is None else list(found)


def _listed_expiries(keyring: bytes) -> tuple[int, ...] | None:
    """``key_expiries`` of the keyring ``keyring`` (given on gpg's standard input: what is
    listed is exactly what was hashed)."""
    with tempfile.TemporaryDirectory(prefix="zerocve-gpg-") as tmp:
        try:
            done = subprocess.run(
                ["gpg", "--batch", "--homedir", tmp, "--show-keys", "--with-colons"],
                input=keyring, capture_output=True, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            return None
    if done.returncode != 0:
        return None
    fields = (line.split(":") for line in done.stdout.decode(errors="replace").splitlines())
    return tuple(int(f[6]) for f in fields
                 if f[0] in ("pub", "sub") and len(f) > 6 and f[6].isdigit())
