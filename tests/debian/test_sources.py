"""Host apt sources: deb822 and one-line formats, from text fixtures and this machine's /etc/apt."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerocve.debian.gpg import verify_clearsigned
from zerocve.debian.sources import (
    host_repositories,
    merge_entries,
    parse_deb822_sources,
    parse_one_line_sources,
)
from zerocve.errors import SpecError
from zerocve.spec import RepositorySpec

KEY_BLOCK = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEZ0000BYJKwYBBAHaRw8BAQdAexample
=abcd
-----END PGP PUBLIC KEY BLOCK-----"""

DEB822 = """\
Types: deb deb-src
# a comment inside a stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: trixie
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: https://vendor.example/apt
Suites: stable
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ0000BYJKwYBBAHaRw8BAQdAexample
 =abcd
 -----END PGP PUBLIC KEY BLOCK-----
"""

ONE_LINE = """\
# the main archive
deb http://mirror.example/debian bookworm main
deb-src http://mirror.example/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://x.example/apt stable main extra  # x
deb file:/srv/repo local main
"""


def test_deb822_entries() -> None:
    entries = parse_deb822_sources(DEB822, "debian.sources")
    assert [(e.uri, e.suites, e.components, e.signed_by) for e in entries] == [
        (
            "http://mirror.example/debian",
            ("bookworm", "bookworm-updates"),
            ("main", "contrib"),
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ),
        ("https://vendor.example/apt", ("stable",), ("main",), None),
    ]
    assert entries[0].where == "debian.sources:1"
    assert entries[1].where == "debian.sources:19"
    assert entries[1].inline_key == KEY_BLOCK + "\n"


def test_one_line_entries() -> None:
    entries = parse_one_line_sources(ONE_LINE, "sources.list")
    assert [(e.uri, e.suites, e.components, e.signed_by, e.where) for e in entries] == [
        ("http://mirror.example/debian", ("bookworm",), ("main",), None, "sources.list:2"),
        (
            "http://x.example/apt",
            ("stable",),
            ("main", "extra"),
            "/etc/apt/keyrings/x.gpg",
            "sources.list:4",
        ),
        ("file:///srv/repo", ("local",), ("main",), None, "sources.list:5"),
    ]


def test_merge_groups_suites_sharing_components() -> None:
    text = """\
deb [signed-by=/k.gpg] http://m.example/debian bookworm main
deb [signed-by=/k.gpg] http://m.example/debian/ bookworm-updates main
deb [signed-by=/k.gpg] http://m.example/debian bookworm contrib
deb [signed-by=/k.gpg] http://m.example/debian sid main
deb [signed-by=/other.gpg] http://m.example/debian trixie main
"""
    specs = merge_entries(parse_one_line_sources(text, "s.list"), {})
    assert specs == [
        RepositorySpec(
            uri="http://m.example/debian",
            suites=["bookworm"],
            components=["main", "contrib"],
            keyring="/k.gpg",
        ),
        RepositorySpec(
            uri="http://m.example/debian",
            suites=["bookworm-updates", "sid"],
            components=["main"],
            keyring="/k.gpg",
        ),
        RepositorySpec(
            uri="http://m.example/debian",
            suites=["trixie"],
            components=["main"],
            keyring="/other.gpg",
        ),  # fmt: skip
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deb http://m.example/debian\n", r"s\.list:1: expected 'deb \[options\] uri suite"),
        ("\n\nrpm http://m.example/x a b\n", r"s\.list:3: expected 'deb' or 'deb-src'"),
        ("deb ftp://m.example/debian bookworm main\n", r"s\.list:1: unsupported .*ftp://"),
        ("deb [trusted] http://m.example/d bookworm main\n", r"s\.list:1: option 'trusted'"),
        ("deb http://m.example/d ./\n", r"s\.list:1: flat repository"),
        ("deb http://m.example/d bookworm\n", r"s\.list:1: .*at least one component"),
        (
            "deb [signed-by=/a.gpg,/b.gpg] http://m.example/d bookworm main\n",
            r"s\.list:1: Signed-By '/a.gpg,/b.gpg' is not one keyring path",
        ),
    ],
)
def test_one_line_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_one_line_sources(text, "s.list")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Types: deb\nURIs: http://m.example/d\n", r"x\.sources:1: stanza has no Suites field"),
        ("Types: deb\nnot a field\n", r"x\.sources:2: expected 'Field: value'"),
        ("Types: deb\nSuites: a\n", r"x\.sources:1: stanza has no URIs field"),
        (" orphan\n", r"x\.sources:1: continuation line outside a field"),
        (
            "\nTypes: deb\nURIs: http://m.example/d\nSuites: a\nComponents: main\n"
            "Signed-By: 0123456789ABCDEF\n",
            r"x\.sources:2: Signed-By '0123456789ABCDEF' is not one keyring path",
        ),
    ],
)
def test_deb822_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_deb822_sources(text, "x.sources")


def test_host_repositories_reads_apt_dir_and_stores_inline_keys(tmp_path: Path) -> None:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text("deb [signed-by=/k.gpg] http://m.example/debian sid main\n")
    (etc / "sources.list.d" / "debian.sources").write_text(DEB822)
    (etc / "sources.list.d" / "old.list.disabled-by-admin").write_text("garbage that won't parse")
    (etc / "sources.list.d" / "notes.txt").write_text("not a source")
    keys = tmp_path / "keys"
    specs = host_repositories(etc, key_dir=keys)
    (stored,) = keys.glob("*.asc")
    assert stored.read_text() == KEY_BLOCK + "\n"
    assert list(keys.glob(".tmp-*")) == []
    assert [(s.uri, s.suites, s.components, s.keyring) for s in specs] == [
        ("http://m.example/debian", ["sid"], ["main"], "/k.gpg"),
        (
            "http://mirror.example/debian",
            ["bookworm", "bookworm-updates"],
            ["main", "contrib"],
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ),
        ("https://vendor.example/apt", ["stable"], ["main"], str(stored)),
    ]
    assert host_repositories(etc, key_dir=keys) == specs  # the key file is reused


def test_host_repositories_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    bad = tmp_path / "sources.list.d" / "bad.list"
    bad.write_text("deb http://m.example/debian\n")
    with pytest.raises(SpecError, match=f"{bad}:1: "):
        host_repositories(tmp_path, key_dir=tmp_path / "keys")


def test_this_machine_sources_parse(tmp_path: Path) -> None:
    specs = host_repositories(key_dir=tmp_path / "keys")
    for spec in specs:
        assert spec.uri.startswith(("http://", "https://", "file://"))
        assert spec.suites and spec.components


def test_sources_without_signed_by_use_apt_trusted_keys(tmp_path):
    """A stock Debian 12 sources.list has no Signed-By: apt trusts trusted.gpg.d, so do we."""
    etc = tmp_path / "apt"
    (etc / "trusted.gpg.d").mkdir(parents=True)
    archive = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not archive.exists():
        pytest.skip("debian-archive-keyring is not installed")
    (etc / "trusted.gpg.d" / "debian.gpg").write_bytes(archive.read_bytes())
    (etc / "sources.list").write_text("deb http://mirror.invalid/debian bookworm main\n")
    (spec,) = host_repositories(etc, key_dir=tmp_path / "keys")
    assert spec.keyring is not None
    assert Path(spec.keyring).read_bytes() == archive.read_bytes()
    real = sorted(Path("/var/lib/apt/lists").glob("*_bookworm_InRelease"))
    if real:  # the merged keyring really verifies Debian's own signature
        verify_clearsigned(real[0].read_bytes(), Path(spec.keyring), "InRelease")


def test_sources_without_signed_by_and_no_trusted_keys_stay_unsigned(tmp_path):
    etc = tmp_path / "apt"
    etc.mkdir()
    (etc / "sources.list").write_text("deb http://mirror.invalid/debian bookworm main\n")
    (spec,) = host_repositories(etc, key_dir=tmp_path / "keys")
    assert spec.keyring is None


def test_armored_trusted_keys_are_dearmored_and_verify_debian(tmp_path):
    host = sorted(Path("/etc/apt/trusted.gpg.d").glob("debian-archive-bookworm-*.asc"))
    real = sorted(Path("/var/lib/apt/lists").glob("*_bookworm_InRelease"))
    if not host or not real:
        pytest.skip("no armored Debian keys or lists on this host")
    etc = tmp_path / "apt"
    (etc / "trusted.gpg.d").mkdir(parents=True)
    for key in host:
        (etc / "trusted.gpg.d" / key.name).write_bytes(key.read_bytes())
    (etc / "sources.list").write_text("deb http://mirror.invalid/debian bookworm main\n")
    (spec,) = host_repositories(etc, key_dir=tmp_path / "keys")
    assert verify_clearsigned(real[0].read_bytes(), Path(spec.keyring), "InRelease")
