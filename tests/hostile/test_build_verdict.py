"""No output before the verdict: a build whose image the gate then rejects prints no digest and
no success line, whatever the exit code (issue 6, point 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.aptrepo import SigningKey
from support.lockkit import hello_debs, signed_repo, write_spec, zerocve

pytestmark = pytest.mark.slow


def osv_feed(directory: Path) -> Path:
    """One OSV record: hello-src before 1.1 is vulnerable in Debian 12."""
    directory.mkdir()
    record = {
        "schema_version": "1.6.0", "id": "CVE-2099-0001", "modified": "2026-11-01T00:00:00Z",
        "details": "hello prints too much",
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "hello-src"},
            "ranges": [{"type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.1"}]}],
        }],
    }
    (directory / "CVE-2099-0001.json").write_text(json.dumps(record))
    return directory


def test_a_rejected_build_prints_no_digest(tmp_path: Path) -> None:
    key = SigningKey.create(tmp_path / "gnupg")
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs"))
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])
    db = tmp_path / "advisories.db"
    updated = zerocve("db", "update", "--osv", osv_feed(tmp_path / "osv"), "--db", db)
    assert updated.returncode == 0, updated.stderr
    assert zerocve("lock", spec).returncode == 0
    passed = zerocve("build", spec, "-o", tmp_path / "ok", "--db", db)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip().startswith("sha256:")  # the control: a verdict that passes
    rejected = zerocve("build", spec, "-o", tmp_path / "out", "--db", db, "--fail-on", "any")
    assert rejected.returncode == 1, rejected.stderr
    assert "CVE-2099-0001" in rejected.stderr
    assert rejected.stdout == ""
    assert passed.stdout.strip() not in rejected.stderr
