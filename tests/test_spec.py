"""Image spec parsing: apko-shaped YAML, one-line errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerocve.errors import SpecError
from zerocve.spec import NONROOT_ID, load_spec, parse_spec

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("name", ["static.yaml", "python.yaml"])
def test_examples_parse(name):
    spec = load_spec(EXAMPLES / name)
    assert spec.contents.packages
    assert spec.accounts.run_as == "nonroot"


def test_defaults_run_as_nonroot_65532():
    spec = parse_spec("contents: {packages: [tzdata]}")
    assert spec.accounts.run_as == "nonroot"
    assert [u.uid for u in spec.accounts.users] == [NONROOT_ID]
    assert spec.archs == ["amd64"]
    assert spec.contents.repositories is None  # the host's apt sources


def test_full_spec_round_trips_every_field():
    spec = parse_spec(
        """
contents:
  repositories:
    - uri: file:///srv/repo/
      suites: [bookworm, bookworm-security]
      keyring: /usr/share/keyrings/debian-archive-keyring.gpg
  packages: [python3, "libssl3=3.0.15-1~deb12u1", "tzdata:all"]
accounts:
  groups: [{groupname: app, gid: 1000}]
  users: [{username: app, uid: 1000, gid: 1000, home: /home/app}]
  run-as: app
entrypoint: {command: /usr/bin/python3}
cmd: [-m, http.server]
work-dir: /app
environment: {PYTHONUNBUFFERED: "1"}
paths: [{path: /app, type: directory, uid: 1000, gid: 1000, permissions: 0o750}]
archs: [amd64, arm64]
annotations: {org.opencontainers.image.source: https://example.invalid/app}
test: [[python3, -c, "print(1)"]]
"""
    )
    assert spec.contents.repositories[0].uri == "file:///srv/repo"
    assert spec.contents.repositories[0].components == ["main"]
    assert spec.paths[0].permissions == 0o750
    assert spec.work_dir == "/app" and spec.accounts.run_as == "app"
    assert spec.test == [["python3", "-c", "print(1)"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("contents: {pakages: [a]}", "contents.pakages: unknown field (did you mean 'packages'?)"),
        ("contents:\n  packages: [python3\n", "image.yaml:3:1: invalid YAML"),
        ('contents: {packages: ["Bad Name"]}', "contents.packages: 'Bad Name' is not a package"),
        (
            "contents: {packages: [a1]}\n"
            "accounts: {users: [{username: x, uid: 1, gid: 1, hme: /}]}",
            "accounts.users[0].hme: unknown field (did you mean 'home'?)",
        ),
        (
            "contents: {packages: [a1]}\npaths: [{path: relative}]",
            "paths[0].path: must be an absolute",
        ),
        ("contents: {packages: [a1]}\npaths: [{path: /a, permissions: rwx}]", "not an octal mode"),
        (
            "contents: {packages: [a1], repositories: [{uri: ftp://x, suites: [s]}]}",
            "contents.repositories[0].uri: must start with http://",
        ),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_specs_fail_with_one_line_naming_the_field(text, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "image.yaml")
    line = caught.value.diagnostics()
    assert "\n" not in line
    assert line.startswith("image.yaml")
    assert message in line


def test_missing_file_names_it(tmp_path):
    with pytest.raises(SpecError, match="nope.yaml: cannot read spec"):
        load_spec(tmp_path / "nope.yaml")


def test_resolution_digest_tracks_only_what_decides_packages():
    base = parse_spec("contents: {packages: [python3]}")
    same = parse_spec("contents: {packages: [python3]}\nentrypoint: {command: /bin/x}")
    other = parse_spec("contents: {packages: [python3, tzdata]}")
    arm = parse_spec("contents: {packages: [python3]}\narchs: [arm64]")
    assert base.resolution_digest() == same.resolution_digest()
    assert len({base.resolution_digest(), other.resolution_digest(), arm.resolution_digest()}) == 3
