"""Release and Packages parsing (pure), on small fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zerocve.debian.index import parse_packages, parse_release, safe_pool_path, stanza_pieces
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.errors import RepositoryError

SHA_A = "a" * 64
SHA_B = "B" * 64

RELEASE = f"""\
Origin: Debian
Suite: stable-security
Codename: bookworm-security
Date: Sat, 01 Nov 2026 12:00:00 UTC
Valid-Until: Sat, 08 Nov 2026 12:00:00 +0100
Acquire-By-Hash: yes
MD5Sum:
 00000000000000000000000000000000 10 main/binary-amd64/Packages
SHA256:
 {SHA_A} 1234 main/binary-amd64/Packages
 {SHA_B}   99 main/binary-amd64/Packages.xz
"""

ORIGIN = Origin("file:///srv/repo", "bookworm", "main", "amd64")

PACKAGES = f"""\
Package: libssl3
Source: openssl (3.0.15-1~deb12u1)
Version: 3.0.15-1~deb12u1+b1
Installed-Size: 6186
Architecture: amd64
Multi-Arch: same
Depends: libc6 (>= 2.34)
Priority: optional
Filename: pool/main/o/openssl/libssl3_3.0.15-1~deb12u1+b1_amd64.deb
Size: 2036148
SHA256: {SHA_B}
Description: Secure Sockets Layer toolkit
 This package is part of the OpenSSL project's implementation of the SSL and
 .
 TLS cryptographic protocols.

Package: base-files
Essential: yes
Priority: required
Version: 12.4+deb12u8
Architecture: amd64
Pre-Depends: awk
Provides: base
Breaks: initscripts (<< 2.88dsf-13.3)
Filename: pool/main/b/base-files/base-files_12.4+deb12u8_amd64.deb
Size: 70840
SHA256: {SHA_A}

Package: python3
Source: python3-defaults
Version: 3.11.2-1+b1
Architecture: amd64
Depends: python3.11 (>= 3.11.2-1~),
 libpython3-stdlib (= 3.11.2-1+b1)
Conflicts: python3-distutils (<< 3.11)
Filename: pool/main/p/python3-defaults/python3_3.11.2-1+b1_amd64.deb
Size: 26260
SHA256: {SHA_A}
"""


def test_release_fields() -> None:
    release = parse_release(RELEASE, "r")
    assert release.suite == "stable-security"
    assert release.codename == "bookworm-security"
    assert release.date == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert release.valid_until == datetime(2026, 11, 8, 11, tzinfo=UTC)
    assert release.acquire_by_hash
    assert sorted(release.files) == ["main/binary-amd64/Packages", "main/binary-amd64/Packages.xz"]
    xz = release.files["main/binary-amd64/Packages.xz"]
    assert (xz.size, xz.sha256) == (99, SHA_B.lower())
    assert release.names("bookworm-security") and release.names("stable-security")
    assert not release.names("bookworm")


def test_release_without_suite_fields_names_any_suite() -> None:
    release = parse_release(f"SHA256:\n {SHA_A} 1 main/binary-amd64/Packages\n", "r")
    assert release.names("anything")
    assert release.date is None and release.valid_until is None
    assert not release.acquire_by_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Origin: x\n", "r: Release has no SHA256 file list"),
        ("SHA256:\n abc main/Packages\n", "r: malformed SHA256 line 'abc main/Packages'"),
        (f"SHA256:\n {SHA_A} big main/P\n", "malformed SHA256 line"),
        (f"Date: someday\nSHA256:\n {SHA_A} 1 m/P\n", "r: Release Date 'someday' is not a date"),
        (f"SHA256:\n {SHA_A} 1 m/P\n\nOrigin: y\n", "expected one Release stanza, found 2"),
        ("no colon here\n", "r: malformed Release"),
    ],
)
def test_release_errors(text: str, message: str) -> None:
    with pytest.raises(RepositoryError, match=message):
        parse_release(text, "r")


def test_packages_fields() -> None:
    ssl, base, python = parse_packages(PACKAGES, ORIGIN, "Packages")
    assert ssl == BinaryPackage(
        name="libssl3",
        version="3.0.15-1~deb12u1+b1",
        architecture="amd64",
        source="openssl",
        source_version="3.0.15-1~deb12u1",
        filename="pool/main/o/openssl/libssl3_3.0.15-1~deb12u1+b1_amd64.deb",
        size=2036148,
        sha256=SHA_B.lower(),
        origin=ORIGIN,
        depends="libc6 (>= 2.34)",
        multi_arch="same",
        installed_size=6186,
    )
    assert (base.source, base.source_version) == ("base-files", "12.4+deb12u8")
    assert base.essential and base.priority == "required"
    assert (base.pre_depends, base.provides) == ("awk", "base")
    assert base.breaks == "initscripts (<< 2.88dsf-13.3)"
    # a Source without a version: the binary's version is the source's
    assert (python.source, python.source_version) == ("python3-defaults", "3.11.2-1+b1")
    assert python.depends == "python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)"
    assert python.conflicts == "python3-distutils (<< 3.11)"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("SHA256", None, "Packages:17: base-files: stanza has no SHA256 field"),
        ("Package", None, "Packages:17: stanza has no Package field"),
        ("Size", "lots", "Packages:17: base-files: Size is not a number"),
        ("Size", str(9 << 30), "Packages:17: base-files: Size 9663676416 is over the"),
        ("Filename", "pool/../../etc/shadow", "Packages:17: base-files: unsafe Filename"),
        ("Filename", "/etc/shadow", "unsafe Filename '/etc/shadow'"),
    ],
)
def test_packages_errors_name_index_and_line(field: str, value: str | None, message: str) -> None:
    """The second stanza (base-files, from line 17) with one field changed or dropped."""
    stanzas = PACKAGES.split("\n\n")
    lines = [ln for ln in stanzas[1].splitlines() if not ln.startswith(f"{field}:")]
    if value is not None:
        lines.append(f"{field}: {value}")
    stanzas[1] = "\n".join(lines)
    with pytest.raises(RepositoryError, match=message):
        parse_packages("\n\n".join(stanzas), ORIGIN, "Packages")


def test_empty_index() -> None:
    assert parse_packages("", ORIGIN, "Packages") == ()


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("pool/main/b/base-files/base-files_12.4_amd64.deb", True),
        ("pool/x..y.deb", True),
        ("", False),
        ("/pool/x.deb", False),
        ("pool/../x.deb", False),
        ("..", False),
    ],
)
def test_safe_pool_path(path: str, safe: bool) -> None:
    assert safe_pool_path(path) is safe


def _in_chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_an_index_read_in_pieces_parses_as_a_whole(size: int) -> None:
    """Pieces cut at stanza ends (runs of blank lines included) give the same packages, and
    an error names the same line, as the whole text does."""
    text = "\n\n\n" + PACKAGES.replace("\n\n", "\n\n\n\n", 1) + "\n\n\n"
    pieces = list(stanza_pieces(_in_chunks(text, size)))
    assert "".join(p + "\n\n" for p in pieces)[:-2] == text
    assert parse_packages(pieces, ORIGIN, "P") == parse_packages(text, ORIGIN, "P")
    broken = text.replace("Package: base-files", "Package base-files")
    with pytest.raises(RepositoryError) as whole:
        parse_packages(broken, ORIGIN, "P")
    with pytest.raises(RepositoryError) as in_pieces:
        parse_packages(stanza_pieces(_in_chunks(broken, size)), ORIGIN, "P")
    assert str(in_pieces.value) == str(whole.value)


def test_a_stanza_of_fields_zerocve_does_not_keep_is_still_refused() -> None:
    with pytest.raises(RepositoryError, match="Packages:1: stanza has no Package field"):
        parse_packages("Description: only this\n more of it\n", ORIGIN, "Packages")
