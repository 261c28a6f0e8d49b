"""Properties over generated inputs: what dpkg writes is read back exactly, and every
license expression produced is valid SPDX syntax."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st
from license_expression import Licensing, get_spdx_licensing

from zerocve.inventory import dpkg
from zerocve.inventory.licenses import conjunction, dep5_expression
from zerocve.inventory.status import parse_status

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.builds(str.__add__, st.sampled_from(first), st.text(rest, max_size=max_size))


NAME = st.builds(str.__add__, _word(_ALNUM, _ALNUM + "+.-", 19), st.sampled_from(_ALNUM))
UPSTREAM = _word("0123456789", _ALNUM + "ABCXYZ.+~", 10)
REVISION = _word(_ALNUM + "~", _ALNUM + ".+~", 7)
ARCH = st.sampled_from(["amd64", "arm64", "all", "i386", "riscv64"])


@st.composite
def versions(draw: st.DrawFn) -> str:
    epoch = draw(st.one_of(st.just(""), st.integers(0, 5).map(lambda e: f"{e}:")))
    revision = draw(st.one_of(st.just(""), REVISION.map(lambda r: f"-{r}")))
    return f"{epoch}{draw(UPSTREAM)}{revision}"


@st.composite
def packages(draw: st.DrawFn) -> tuple[str, str, str, str | None, str | None]:
    name, version, arch = draw(NAME), draw(versions()), draw(ARCH)
    source = draw(st.one_of(st.none(), NAME))
    source_version = draw(st.one_of(st.none(), versions())) if source else None
    return name, version, arch, source, source_version


def stanza(
    name: str, version: str, arch: str, source: str | None, sv: str | None, status: str
) -> str:
    lines = [f"Package: {name}", f"Status: {status}", "Priority: optional", f"Architecture: {arch}"]
    if source:
        lines.append(f"Source: {source}" + (f" ({sv})" if sv else ""))
    lines += [f"Version: {version}", "Description: generated", " with a continuation", " ."]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            packages(),
            st.sampled_from(
                [dpkg.INSTALLED, "deinstall ok config-files", "install ok half-installed"]
            ),
        ),
        max_size=12,
        unique_by=lambda entry: entry[0][0],  # dpkg refuses two instances without Multi-Arch
    )
)
def test_status_round_trip(entries: list) -> None:  # type: ignore[type-arg]
    text = "\n".join(stanza(*p, status=s) for p, s in entries)
    parsed = parse_status(text, location="/var/lib/dpkg/status")
    # half-installed and config-files packages are listed, as dpkg-query -W lists them.
    expected = [
        (name, version, arch, source or name, sv or version)
        for (name, version, arch, source, sv), _ in entries
    ]
    assert sorted(
        (p.name, p.version, p.architecture, p.source, p.source_version) for p in parsed
    ) == sorted(expected)


SHORT_NAMES = st.sampled_from(
    [
        "GPL-2",
        "GPL-2+",
        "GPL-3.0+",
        "LGPL-2.1+",
        "LGPLv3",
        "AGPL-3+",
        "GFDL-1.3",
        "Expat",
        "MIT",
        "BSD-3-clause",
        "BSD-2-Clause",
        "Apache-2.0",
        "Apache-2",
        "ISC",
        "Zlib",
        "CC0-1.0",
        "public-domain",
        "Artistic",
        "permissive",
        "OpenLDAP-2.8",
        "MPL-1.1+",
        "X11",
        "curl",
        "GPL-2+ with Autoconf exception",
        "GPL-3+ with Bison exception",
        "GPL-2 with Foo exception",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(SHORT_NAMES, st.sampled_from([" or ", " and ", ", or ", ", and "])),
        min_size=1,
        max_size=5,
    )
)
def test_expressions_are_valid_spdx(parts: list[tuple[str, str]]) -> None:
    text = "".join(name + sep for name, sep in parts[:-1]) + parts[-1][0]
    expression = dep5_expression(text)
    assert expression is not None
    for candidate in (expression, conjunction((expression, "MIT"))):
        assert candidate is not None
        assert unknown_ids(candidate) == [], (text, candidate)


@functools.cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


def unknown_ids(expression: str) -> list[str]:
    """Ids neither on the SPDX list nor LicenseRefs; a syntax error (or a license used as
    an exception after WITH) raises."""
    licensing = _licensing()
    parsed = licensing.parse(expression, validate=False, strict=True)
    return [k for k in licensing.unknown_license_keys(parsed) if not k.startswith("LicenseRef-")]
