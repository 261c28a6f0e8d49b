"""Pinned references: the pure finding and rewriting, then `zerocve pin` on a git work tree
against the registry fixture, with real images so the commit message names the package
change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.fleetkit import push_spec, write_spec
from support.registry import Registry
from test_examples import offered_versions
from zerocve.fleet.pin import Move, commit_message, find_pinned, rewrite

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64

DOCUMENT = f"""\
FROM 127.0.0.1:5000/team/python:3.11@{OLD} AS build
image: "registry.example/team/app:latest@{OLD}"
  - localhost/app:1@{OLD}
bare: python:3.11@{OLD}
unpinned: registry.example/team/app:latest
url: https://registry.example/team/app:latest@{OLD}
longer: registry.example/team/app:latest@{OLD}0
"""


def test_find_pinned_takes_only_pinned_references_with_a_registry():
    found = find_pinned(DOCUMENT)
    assert [(p.name, p.tag, p.digest, p.line) for p in found] == [
        ("127.0.0.1:5000/team/python", "3.11", OLD, 1),
        ("registry.example/team/app", "latest", OLD, 2),
        ("localhost/app", "1", OLD, 3),
    ]


def test_rewrite_replaces_the_digest_of_known_tags_only():
    after = rewrite(DOCUMENT, {("registry.example/team/app", "latest"): NEW,
                               ("localhost/app", "1"): OLD})
    changed = [(a, b) for a, b in zip(DOCUMENT.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert changed == [(f'image: "registry.example/team/app:latest@{OLD}"',
                        f'image: "registry.example/team/app:latest@{NEW}"')]
    assert rewrite(after, {}) == after


def test_commit_message_lists_each_move_with_its_changes():
    message = commit_message([
        Move("r.example/team/b", "1", OLD, NEW, ("tzdata:all 2026b → 2026f",)),
        Move("r.example/team/a", "latest", OLD, NEW),
    ])
    assert message.splitlines() == [
        "Pin a:latest, b:1 to the current digests", "",
        "r.example/team/a:latest", f"  {OLD} → {NEW}",
        "r.example/team/b:1", f"  {OLD} → {NEW}", "  tzdata:all 2026b → 2026f",
    ]


def zerocve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.slow
def test_pin_commits_the_new_digest_with_the_changelog(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    versions = offered_versions(apt_repo, "tzdata")
    old_version, new_version = versions[0], versions[-1]
    name = f"{registry.host}/fleet/pinned"
    old = push_spec(write_spec(tmp_path, "old", apt_repo, [f"tzdata={old_version}"]),
                    f"{name}:latest")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "Dockerfile").write_text(f"FROM {name}:latest@{old}\nUSER 65532\n")
    (deploy / "k8s.yaml").write_text(f"containers:\n  - image: {name}:latest@{old}\n")
    (deploy / "notes.txt").write_text("nothing pinned here\n")
    git(deploy, "init", "--quiet", "--initial-branch=main")
    git(deploy, "add", ".")
    git(deploy, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "x")

    current = zerocve("pin", str(deploy), "--dry-run", cwd=tmp_path)
    assert current.returncode == 0 and current.stdout == ""
    assert "every pinned reference is current" in current.stderr

    new = push_spec(write_spec(tmp_path, "new", apt_repo, ["tzdata"]), f"{name}:latest")
    assert new != old
    result = zerocve("pin", str(deploy), "--commit", "--branch", "pin-test", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"-FROM {name}:latest@{old}\n+FROM {name}:latest@{new}\n" in result.stdout
    assert "+++ b/k8s.yaml" in result.stdout
    assert (deploy / "Dockerfile").read_text() == f"FROM {name}:latest@{new}\nUSER 65532\n"
    assert git(deploy, "branch", "--show-current").strip() == "pin-test"
    assert git(deploy, "status", "--porcelain") == ""
    message = git(deploy, "log", "-1", "--format=%B")
    assert message.startswith("Pin pinned:latest to the current digest\n")
    assert f"{old} → {new}" in message
    assert f"tzdata:all {old_version} → {new_version}" in message
    assert git(deploy, "diff", "--name-only", "main", "pin-test").split() == [
        "Dockerfile", "k8s.yaml"
    ]


@pytest.mark.slow
def test_pin_fails_closed(registry: Registry, tmp_path: Path):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    text = f"FROM {registry.host}/fleet/never-pushed:1@{OLD}\n"
    (deploy / "Dockerfile").write_text(text)
    missing = zerocve("pin", str(deploy), cwd=tmp_path)
    assert missing.returncode == 3
    assert missing.stderr.strip().splitlines() == [
        f"error: {registry.host}/fleet/never-pushed:1: no such tag in the registry (pinned at "
        "line 1); fix the reference or push the tag"
    ]
    assert (deploy / "Dockerfile").read_text() == text
    absent = zerocve("pin", str(tmp_path / "absent"), cwd=tmp_path)
    assert absent.returncode == 2 and "absent: not a directory" in absent.stderr
