"""gpgv verification against Debian's own signed InRelease files, as this machine's apt stored
them, and Debian's keyring (no network: the files are already on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerocve.debian.gpg import verify_clearsigned
from zerocve.debian.index import parse_release
from zerocve.errors import SignatureError

LISTS = Path("/var/lib/apt/lists")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
INRELEASES = sorted(LISTS.glob("*debian*_InRelease")) if LISTS.is_dir() else []

pytestmark = pytest.mark.skipif(
    not INRELEASES or not DEBIAN_KEYRING.exists(),
    reason="needs apt lists from a Debian mirror and debian-archive-keyring",
)


@pytest.mark.parametrize("inrelease", INRELEASES, ids=lambda p: p.name)
def test_debian_inrelease_verifies_and_parses(inrelease: Path) -> None:
    text = verify_clearsigned(inrelease.read_bytes(), DEBIAN_KEYRING, inrelease.name)
    assert not text.startswith(b"-----BEGIN")
    assert b"-----BEGIN PGP SIGNATURE-----" not in text
    release = parse_release(text.decode(), inrelease.name)
    assert release.date is not None
    assert "main/binary-amd64/Packages.xz" in release.files
    assert release.codename is not None and release.codename in inrelease.name


def test_debian_inrelease_with_the_wrong_keyring(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gpg"
    empty.write_bytes(b"")
    with pytest.raises(SignatureError, match=r"InRelease signed by unknown key [0-9A-F]{16,40} "):
        verify_clearsigned(INRELEASES[0].read_bytes(), empty, INRELEASES[0].name)


def test_missing_keyring(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match=f"{tmp_path}/nope.gpg: cannot read keyring"):
        verify_clearsigned(INRELEASES[0].read_bytes(), tmp_path / "nope.gpg", "InRelease")


def test_garbage_armored_keyring(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asc"
    bad.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n")
    with pytest.raises(SignatureError, match=f"{bad}: not a valid armored keyring"):
        verify_clearsigned(INRELEASES[0].read_bytes(), bad, "InRelease")
