"""Repository signatures at least as strict as apt's: an InRelease signed with a weak digest
(SHA1) or carrying text outside its signed part is refused (issue 6, point 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.aptrepo import AptRepo, SigningKey
from support.lockkit import SUITE, hello_debs, signed_repo, write_spec, zerocve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """RSA, since gpg makes EdDSA signatures with a 256-bit digest at least."""
    return SigningKey.create(tmp_path_factory.mktemp("gnupg-rsa"), algo="rsa2048")


@pytest.fixture
def repo(tmp_path: Path, rsa_key: SigningKey) -> AptRepo:
    return signed_repo(tmp_path / "repo", rsa_key, hello_debs(tmp_path / "debs"))


def lock_fails(tmp_path: Path, repo: AptRepo, *words: str) -> None:
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    done = zerocve("lock", spec)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), done.stderr
    assert not (tmp_path / "image.lock.json").exists()


def test_the_repository_signs_well(tmp_path: Path, repo: AptRepo) -> None:
    """The control: the same repository, signed with SHA256 (gpg's default), is accepted."""
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    done = zerocve("lock", spec)
    assert done.returncode == 0, done.stderr


def test_inrelease_signed_with_sha1(tmp_path: Path, repo: AptRepo) -> None:
    dist = repo.root / "dists" / SUITE
    repo.key.clearsign(dist / "Release", dist / "InRelease", digest="SHA1")
    assert b"Hash: SHA1" in (dist / "InRelease").read_bytes()
    lock_fails(tmp_path, repo, "InRelease", "weak digest SHA1")


def test_text_after_the_signature(tmp_path: Path, repo: AptRepo) -> None:
    inrelease = repo.root / "dists" / SUITE / "InRelease"
    evil = f"SHA256:\n {'0' * 64} 123 main/binary-amd64/Packages.xz\n"
    inrelease.write_text(inrelease.read_text() + evil)
    lock_fails(tmp_path, repo, "InRelease", "text after the signature")


def test_text_before_the_signed_message(tmp_path: Path, repo: AptRepo) -> None:
    inrelease = repo.root / "dists" / SUITE / "InRelease"
    inrelease.write_text("Origin: evil\n\n" + inrelease.read_text())
    lock_fails(tmp_path, repo, "InRelease", "not one clearsigned message")


def test_a_second_signature_block(tmp_path: Path, repo: AptRepo) -> None:
    inrelease = repo.root / "dists" / SUITE / "InRelease"
    text = inrelease.read_text()
    signature = text[text.index("-----BEGIN PGP SIGNATURE-----"):]
    inrelease.write_text(text + signature)
    lock_fails(tmp_path, repo, "InRelease", "not one clearsigned message")
