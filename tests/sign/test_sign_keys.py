"""Key pairs: the files cosign writes and cosign, skopeo and podman read."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support.ocilayout import make_layout
from support.registry import Registry
from support.signing import PASSPHRASE, KeyPair, manifest, zerocve
from zerocve.errors import SigningError
from zerocve.sign.keys import COSIGN_PEM, load_private_key, load_public_key, parse_private_key

DATA = Path(__file__).parent / "data"


def test_generated_pair_is_cosign_format_and_signs(keys: KeyPair, tmp_path: Path):
    text = keys.private.read_text()
    assert text.startswith(f"-----BEGIN {COSIGN_PEM}-----\n")
    assert stat.S_IMODE(keys.private.stat().st_mode) == 0o600
    body = "".join(text.splitlines()[1:-1])
    envelope = json.loads(base64.b64decode(body))
    assert envelope["kdf"]["name"] == "scrypt"
    assert envelope["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert envelope["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(envelope["cipher"]["nonce"])) == 24
    # openssl, an independent implementation, checks a signature against the .pub file.
    key = load_private_key(keys.private, PASSPHRASE.encode())
    data = tmp_path / "data"
    data.write_bytes(b"zerocve")
    (tmp_path / "sig").write_bytes(key.sign(b"zerocve"))
    verified = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(keys.public), "-signature",
         str(tmp_path / "sig"), str(data)], capture_output=True, text=True)
    assert verified.stdout.strip() == "Verified OK", verified.stderr
    assert load_public_key(keys.public) == key.public()


def test_reads_a_key_cosign_wrote():
    key = load_private_key(DATA / "cosign-sigstore.key", b"hello")
    assert key.public().verifies(key.sign(b"x"), b"x")
    with pytest.raises(SigningError, match="wrong passphrase"):
        load_private_key(DATA / "cosign-sigstore.key", b"goodbye")


def test_wrong_passphrase_is_one_line_exit_3(keys: KeyPair, tmp_path: Path):
    result = zerocve("sign", "127.0.0.1:9/none:v1", "--key", str(keys.private),
                     home=tmp_path, env={"COSIGN_PASSWORD": "wrong"})
    assert result.returncode == 3
    assert result.stderr.strip() == f"error: {keys.private}: wrong passphrase for the private key"


def test_missing_key_and_no_passphrase_are_usage_errors(keys: KeyPair, tmp_path: Path):
    missing = zerocve("sign", "127.0.0.1:9/none:v1", "--key", str(tmp_path / "nope.key"),
                      home=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.key'}: no such private key file"
    empty = zerocve("key", "generate", "--output", str(tmp_path / "k"), home=tmp_path,
                    env={"COSIGN_PASSWORD": ""})
    assert empty.returncode == 0  # an empty passphrase is a passphrase, as for cosign
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    no_terminal = subprocess.run(
        [sys.executable, "-m", "zerocve", "key", "generate", "--output", str(tmp_path / "k2")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert no_terminal.returncode == 2
    assert "set COSIGN_PASSWORD" in no_terminal.stderr
    assert not (tmp_path / "k2.key").exists()


def test_generate_never_overwrites(keys: KeyPair, tmp_path: Path):
    before = keys.private.read_bytes()
    again = zerocve("key", "generate", "--output", str(keys.private.with_suffix("")),
                    home=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("already exists; remove it or choose another --output")
    assert keys.private.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["kdf"]["params"].update(N=1024), "unsupported scrypt parameters"),
        (lambda e: e["cipher"].update(name="aes"), "unsupported cipher"),
        (lambda e: e.update(ciphertext=e["ciphertext"][:-8] + "AAAAAAA="), "wrong passphrase"),
        (lambda e: e.pop("kdf"), "no kdf.name"),
    ],
)
def test_damaged_envelope_is_refused(keys: KeyPair, change, message: str):
    lines = keys.private.read_text().splitlines()
    envelope = json.loads(base64.b64decode("".join(lines[1:-1])))
    change(envelope)
    pem = "\n".join([lines[0], base64.b64encode(json.dumps(envelope).encode()).decode(),
                     lines[-1]]).encode()
    with pytest.raises(SigningError, match=message):
        parse_private_key(pem, PASSPHRASE.encode(), keys.private)


def test_a_public_key_is_not_a_private_key(keys: KeyPair):
    with pytest.raises(SigningError, match="not a private key zerocve reads"):
        load_private_key(keys.public, b"")
    with pytest.raises(SigningError, match="not a PEM public key"):
        load_public_key(keys.private)


@pytest.mark.slow
def test_publish_with_a_wrong_passphrase_pushes_nothing(keys: KeyPair, registry: Registry,
                                                       tmp_path: Path):
    layout = make_layout(tmp_path / "layout", {"amd64": [{"etc/motd": b"never pushed\n"}]})
    result = zerocve("publish", "--no-scan", "--layout", str(layout.root),
                     f"{registry.host}/keys/app:v1", "--sign", str(keys.private),
                     home=tmp_path, env={"COSIGN_PASSWORD": "wrong"})
    assert result.returncode == 3
    assert result.stderr.strip() == f"error: {keys.private}: wrong passphrase for the private key"
    assert manifest(registry.host, "keys/app", "v1") is None
