"""The spec a digest was built from: canonical, so that only an edit of what the spec says
(not how the YAML spells it) rebuilds an image, and named field by field. Pure."""

from __future__ import annotations

import pytest

from zerocve.fleet.built_spec import NOT_RECORDED, as_built, changed_fields, digest, spec_change
from zerocve.spec import parse_spec

SPEC = """\
contents:
  repositories: [{uri: 'http://127.0.0.1:1/debian', suites: [bookworm], keyring: /k.gpg}]
  packages: [python3, tzdata]
entrypoint: {command: /usr/bin/python3}
environment: {LANG: C.UTF-8, TZ: UTC}
"""


def built(text: str) -> str:
    return as_built(parse_spec(text))


@pytest.mark.parametrize("same", [
    "# a comment\n" + SPEC.replace("packages:", "packages:   # what it holds\n   "),
    # the same mappings in another order, flow style spelled out in block style
    SPEC.replace("environment: {LANG: C.UTF-8, TZ: UTC}",
                 "environment:\n  TZ: UTC\n  LANG: C.UTF-8"),
    SPEC + "archs: [amd64]\ncmd: null\n",  # defaults spelled out
])  # fmt: skip
def test_how_the_yaml_spells_it_changes_nothing(same):
    assert built(same) == built(SPEC)
    assert spec_change(built(SPEC), built(same)) is None


@pytest.mark.parametrize(("edit", "named"), [
    (SPEC.replace("/usr/bin/python3", "/usr/bin/python3 -I"), "entrypoint"),
    (SPEC.replace("TZ: UTC", "TZ: Europe/Paris") + "work-dir: /srv\n", "environment, work-dir"),
    (SPEC.replace("  packages:", "  files: {exclude: [/usr/share/doc/**]}\n  packages:"),
     "contents.files"),
    (SPEC.replace("tzdata]", "tzdata, dash]"), "contents.packages"),
    (SPEC + "accounts: {users: [{username: app, uid: 1000, gid: 1000}]}\n", "accounts"),
    (SPEC + "annotations: {org.opencontainers.image.title: py}\n", "annotations"),
    (SPEC + "test: [[/usr/bin/python3, -c, '1']]\n", "test"),
])  # fmt: skip
def test_an_edit_of_what_the_spec_says_is_named(edit, named):
    assert built(edit) != built(SPEC) and digest(built(edit)) != digest(built(SPEC))
    assert spec_change(built(SPEC), built(edit)) == f"the spec changed: {named}"


def test_a_digest_built_before_specs_were_recorded_is_rebuilt_once():
    assert spec_change(None, built(SPEC)) == NOT_RECORDED


@pytest.mark.parametrize("damaged", ["", "{", "[]", '{"contents": 1}', built(SPEC)[:-1]])
def test_a_damaged_record_is_a_change_never_a_match(damaged):
    change = spec_change(damaged, built(SPEC))
    assert change is not None and change.startswith("the spec changed")
    assert damaged == '{"contents": 1}' or changed_fields(damaged, built(SPEC)) == ()
