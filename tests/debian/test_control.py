"""A control file read, and a status stanza written, as python-debian's ``Deb822`` does (the
oracle, a test-only dependency): on every real .deb at hand, on hand-written shapes and on
generated ones; and the control files zerocve refuses where python-debian guesses."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from debian.deb822 import Deb822
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aptrepo import AptRepo, deb_cache_dir
from zerocve.assemble.dpkg_db import _FIELD_ORDER, status_stanza
from zerocve.assemble.rootfs import UnpackedPackage
from zerocve.debian.control import STATUS_ONLY, format_stanza, parse_control
from zerocve.debian.deb import DebControl, read_control


def _oracle_fields(text: str) -> list[tuple[str, str]]:
    return list(dict(Deb822(text)).items())


def _oracle_status_stanza(package: UnpackedPackage) -> str:
    """dpkg_db.status_stanza as it was written with python-debian (zerocve 3171cfe)."""
    fields = dict(package.control.fields)
    fields["Status"] = "install ok installed"
    if package.conffiles:
        fields["Conffiles"] = "".join(f"\n {path} {md5}" for path, md5 in package.conffiles)
    ordered = Deb822()
    for name in _FIELD_ORDER:
        if name in fields:
            ordered[name] = fields.pop(name)
    for name, value in fields.items():
        ordered[name] = value
    dumped: str = ordered.dump()
    return dumped


def _installed(control: DebControl) -> UnpackedPackage:
    """The package as status_stanza sees it: its control and its conffiles' md5s (made up:
    only their layout matters here)."""
    conffiles = tuple((path, hashlib.md5(path.encode()).hexdigest())
                      for path in control.conffiles)
    record: Any = SimpleNamespace(name=control.package, architecture=control.get("Architecture"))
    return UnpackedPackage(record, control, (), (), conffiles)


@pytest.mark.slow
def test_every_real_control_file_reads_and_writes_as_python_debian(apt_repo: AptRepo) -> None:
    """The fixture's .debs, and every .deb the bench's local repositories are made of (the
    shared .deb cache); the status stanza is byte for byte the one python-debian wrote."""
    debs = {deb.name: deb for deb in apt_repo.root.rglob("*.deb")}
    debs.update((deb.name, deb) for deb in deb_cache_dir().rglob("*.deb"))
    assert len(debs) > 100, sorted(debs)
    with_conffiles = 0
    for deb in debs.values():
        control = read_control(deb)
        assert list(control.fields.items()) == _oracle_fields(control.stanza), deb.name
        package = _installed(control)
        assert status_stanza(package) == _oracle_status_stanza(package), deb.name
        with_conffiles += bool(control.conffiles)
    assert with_conffiles > 5  # Conffiles' empty first line is exercised


# Shapes a control file may take that python-debian and zerocve read alike.
SAME = {
    "multi-line description": (
        "Package: a\nVersion: 1\nDescription: short\n long line one\n .\n long line two\n"),
    "a field whose first line is empty": "Package: a\nX-List:\n one\n two\nVersion: 1\n",
    "trailing whitespace": "Package: a \nDescription: s  \n kept as is  \n .\t\nVersion: 1\t\n",
    "tabs": "Package:\ta\nDescription:\tshort\n\tcontinued by a tab\n",
    "comment lines": "# head\nPackage: a\n# between fields\nDescription: s\n# inside\n x\n",
    "no final newline": "Package: a\nDescription: s\n x",
    "blank lines around": "\n\nPackage: a\nVersion: 1\n\n\n",
    "field-name case kept": "package: a\nVERSION: 1\nx-Custom: y\n",
    "empty value": "Package: a\nX-Empty:\nX-Spaces:   \nVersion: 1\n",
    "no space after the colon": "Package:a\nVersion:1:2.3-4\nHomepage:https://x.invalid/a:b\n",
    "colon in a name-like value": "Package: a\nBreaks: b (<< 1:2)\n",
    "not ascii": "Package: a\nMaintainer: Jörg Ünïcødé <j@x.invalid>\nDescription: ü\n ß\n",
    "first line space before continuation": "Package: a\nDescription:  \n body\n",
}


@pytest.mark.parametrize("text", SAME.values(), ids=SAME.keys())
def test_read_and_written_as_python_debian(text: str) -> None:
    fields = parse_control(text)
    assert list(fields.items()) == _oracle_fields(text)
    assert format_stanza(fields.items()) == Deb822(text).dump()


# Where python-debian guesses (drops a line, keeps the last value, stops at a blank line),
# zerocve refuses, as dpkg does.
REFUSED = {
    "a line that is no field": ("Package: a\nversion 1\n", "expected 'Field: value'"),
    "a second stanza": ("Package: a\n\nPackage: b\n", "2 stanzas"),
    "no stanza": ("# only a comment\n", "0 stanzas"),
    "a blank continuation line": ("Package: a\nDescription: s\n \n more\n",
                                  "'Description' has a blank continuation line"),
    "a tab-only continuation line": ("Package: a\nDescription: s\n\t\n", "blank continuation"),
    "a field given twice": ("Package: a\nVersion: 1\nVersion: 2\n", "'Version' given twice"),
    "a field given twice in another case": ("Package: a\nVersion: 1\nversion: 2\n",
                                            "given twice"),
    "a space in a field name": ("Package: a\nX Y: 1\n", "'X Y' is not a deb822 field name"),
    "a space before the colon": ("Package: a\nVersion : 1\n", "not a deb822 field name"),
    "a name starting with a hyphen": ("Package: a\n-X: 1\n", "not a deb822 field name"),
    "a one-letter name": ("Package: a\nX: 1\n", "'X' is too short"),
    "a control character in a name": ("Package: a\nX\x7fY: 1\n", "not a deb822 field name"),
    **{f"dpkg's own {name}": (f"Package: a\n{name}: install ok installed\n", "dpkg's own")
       for name in ("Status", "status", "Config-Version", "Triggers-Pending",
                    "Triggers-Awaited")},
    "dpkg's own Conffiles": ("Package: a\nConffiles:\n /etc/a 0123\n", "dpkg's own"),
}


@pytest.mark.parametrize(("text", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_where_python_debian_guesses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_control(text)
    Deb822(text)  # python-debian reads it all the same


def test_lines_end_at_newline_only() -> None:
    """python-debian splits lines at Unicode line boundaries too; dpkg (and zerocve) only at
    ``\\n``: such a character stays inside its value, and is written back as it was."""
    text = "Package: a\nDescription: one\u2028two\n more\x0cthan\n"
    fields = parse_control(text)
    assert fields["Description"] == "one\u2028two\n more\x0cthan"
    assert parse_control(format_stanza(fields.items())) == fields
    assert dict(Deb822(text))["Description"] != fields["Description"]


# Generated stanzas: names as dpkg-gencontrol writes them, values of any text python-debian
# and dpkg both read as one line (no control character, no line separator).
_NAME = st.from_regex(r"[A-Z][A-Za-z0-9]{1,6}(-[A-Za-z0-9]{1,6}){0,2}", fullmatch=True).filter(
    lambda name: name.lower() not in STATUS_ONLY)
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")) | st.sampled_from(
    " \t"), max_size=12)
_SPACE = st.sampled_from(["", " ", "  ", "\t", " \t "])
_CONTINUATION = st.tuples(st.sampled_from([" ", "\t", "  "]), _TEXT.filter(str.strip), _SPACE)


@st.composite
def _stanzas(draw: st.DrawFn) -> str:
    names = draw(st.lists(_NAME, min_size=1, max_size=6, unique_by=str.lower))
    lines = [f"# {draw(_TEXT)}"] if draw(st.booleans()) else []
    for name in names:
        lines.append(f"{name}:{draw(_SPACE)}{draw(_TEXT)}{draw(_SPACE)}")
        for lead, body, trail in draw(st.lists(_CONTINUATION, max_size=3)):
            lines.append(lead + body + trail)
            if draw(st.booleans()):
                lines.append("#" + draw(_TEXT))
    text = "\n" * draw(st.integers(0, 2)) + "\n".join(lines)
    return text + "\n" * draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_stanzas())
def test_generated_stanzas_read_and_written_as_python_debian(text: str) -> None:
    fields = parse_control(text)
    assert list(fields.items()) == _oracle_fields(text)
    written = format_stanza(fields.items())
    assert written == Deb822(text).dump()
    assert parse_control(written) == fields  # what is written reads back the same
