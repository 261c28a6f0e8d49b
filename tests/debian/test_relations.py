"""Relationship fields: syntax, arch restrictions, build profiles, Provides; and every field of
the host's real indices parses and prints back as written."""

from __future__ import annotations

import re

import pytest
from _host_indices import real_packages

from zerocve.debian.relations import (
    Relation,
    RelationSyntaxError,
    arch_matches,
    format_dependency,
    parse_dependencies,
    parse_provides,
)


def test_plain_versioned_and_alternatives() -> None:
    deps = parse_dependencies("libc6 (>= 2.34), libssl3 | libssl1.1, python3:any (<< 3.12)")
    assert deps == [
        (Relation("libc6", None, ">=", "2.34"),),
        (Relation("libssl3"), Relation("libssl1.1")),
        (Relation("python3", "any", "<<", "3.12"),),
    ]


@pytest.mark.parametrize("op", ["<<", "<=", "=", ">=", ">>", "<", ">"])
def test_every_operator(op: str) -> None:
    assert parse_dependencies(f"foo ({op} 1:2.0-1~bpo1)") == [
        (Relation("foo", None, op, "1:2.0-1~bpo1"),)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "foo(>=1.0),bar|baz:native",
        "  foo  ( >=  1.0 )  ,\n bar \t|\tbaz:native ,",
        "foo (>= 1.0),\n bar | baz:native",
    ],
)
def test_whitespace_and_trailing_comma(text: str) -> None:
    assert parse_dependencies(text) == [
        (Relation("foo", None, ">=", "1.0"),),
        (Relation("bar"), Relation("baz", "native")),
    ]


def test_empty_field() -> None:
    assert parse_dependencies("") == []
    assert parse_dependencies("  ") == []
    assert parse_provides("") == []


def test_arch_qualifiers() -> None:
    deps = parse_dependencies("a:any, b:native, c:amd64 (= 1), d:i386")
    assert [d[0].arch_qualifier for d in deps] == ["any", "native", "amd64", "i386"]


@pytest.mark.parametrize(
    ("restriction", "kept_on_amd64"),
    [
        ("[amd64]", True),
        ("[i386 amd64]", True),
        ("[i386]", False),
        ("[!amd64]", False),
        ("[!i386 !armhf]", True),
        ("[linux-any]", True),
        ("[any-amd64]", True),
        ("[kfreebsd-any]", False),
        ("[any-i386]", False),
        ("[!linux-any]", False),
        ("[any]", True),
    ],
)
def test_arch_restrictions(restriction: str, kept_on_amd64: bool) -> None:
    text = f"foo (>= 1) {restriction}, bar"
    expected = [(Relation("foo", None, ">=", "1"),)] if kept_on_amd64 else []
    assert parse_dependencies(text, arch="amd64") == [*expected, (Relation("bar"),)]
    # Without a target architecture nothing is dropped.
    assert len(parse_dependencies(text)) == 2


def test_restriction_drops_one_alternative_or_the_whole_dependency() -> None:
    assert parse_dependencies("a [i386] | b, c [i386] | d [armhf]", arch="amd64") == [
        (Relation("b"),)
    ]


@pytest.mark.parametrize(
    ("profiles", "active", "kept"),
    [
        ("<!nocheck>", (), True),
        ("<!nocheck>", ("nocheck",), False),
        ("<stage1>", (), False),
        ("<stage1 cross>", ("stage1",), False),
        ("<stage1 cross>", ("stage1", "cross"), True),
        ("<stage1> <cross>", ("cross",), True),
        ("<!stage1> <!cross>", ("stage1", "cross"), False),
    ],
)
def test_build_profiles(profiles: str, active: tuple[str, ...], kept: bool) -> None:
    deps = parse_dependencies(f"foo [amd64] {profiles}", arch="amd64", profiles=active)
    assert deps == ([(Relation("foo"),)] if kept else [])


def test_arch_matches_wildcards() -> None:
    assert arch_matches("amd64", "amd64")
    assert arch_matches("arm64", "linux-any")
    assert arch_matches("hurd-i386", "hurd-any")
    assert arch_matches("hurd-i386", "any-i386")
    assert not arch_matches("hurd-i386", "linux-any")
    assert not arch_matches("i386", "amd64")
    assert not arch_matches("armhf", "any-arm64")


def test_versioned_provides() -> None:
    assert parse_provides("python3-foo (= 1.2-1), mail-transport-agent") == [
        Relation("python3-foo", None, "=", "1.2-1"),
        Relation("mail-transport-agent"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo | bar", "alternatives are not allowed in Provides"),
        ("foo (>= 1)", "Provides allows only '='"),
    ],
)
def test_bad_provides(text: str, message: str) -> None:
    with pytest.raises(RelationSyntaxError, match=re.escape(message)):
        parse_provides(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo (>= )", "'foo (>= )'"),
        ("foo (~ 1.0)", "'foo (~ 1.0)'"),
        ("foo (>= 1.0", "'foo (>= 1.0'"),
        ("libc6, Foo", "'Foo'"),
        ("foo | | bar", "''"),
        ("foo bar", "'foo bar'"),
        ("-foo", "'-foo'"),
        ("foo [!i386 amd64]", "mixed negated and plain architectures in 'foo [!i386 amd64]'"),
        ("foo []", "empty architecture restriction in 'foo []'"),
        ("foo (>= x:1)", "'foo (>= x:1)': invalid version 'x:1': epoch is not a number"),
    ],
)
def test_malformed_fields_name_the_fragment(text: str, fragment: str) -> None:
    with pytest.raises(RelationSyntaxError, match=re.escape(fragment)):
        parse_dependencies(text, arch="amd64")


def test_str_round_trip() -> None:
    text = "libc6 (>= 2.34), python3:any (<< 3.12) | python3.11:native, tzdata"
    assert ", ".join(format_dependency(d) for d in parse_dependencies(text)) == text


def _normalized(text: str) -> str:
    return " ".join(text.split())


def test_every_relationship_field_of_real_indices_parses_and_prints_back(
    request: pytest.FixtureRequest,
) -> None:
    """Tens of thousands of real fields: each parses, and prints back as the archive wrote it
    (the archive writes ``name (op version)``, ``, `` and `` | ``)."""
    packages = real_packages(request)
    checked = 0
    for pkg in packages:
        for text in (pkg.depends, pkg.pre_depends, pkg.conflicts, pkg.breaks):
            if not text:
                continue
            printed = ", ".join(format_dependency(d) for d in parse_dependencies(text, "amd64"))
            assert printed == _normalized(text), pkg.name
            checked += 1
        if pkg.provides:
            printed = ", ".join(str(r) for r in parse_provides(pkg.provides))
            assert printed == _normalized(pkg.provides), pkg.name
            checked += 1
    assert checked > len(packages) // 2  # most packages have several such fields
