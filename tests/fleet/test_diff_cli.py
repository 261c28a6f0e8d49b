"""`zerocve diff` as a user runs it, on real images: an OCI layout against a registry image,
with an advisory DB whose only record is fixed by the newer tzdata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.fleetkit import build_layout, push_spec, write_spec
from support.registry import Registry
from test_examples import advisory, offered_versions

pytestmark = pytest.mark.slow


def zerocve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args], capture_output=True, text=True, env=env,
        timeout=300,
    )


def test_diff_names_the_package_move_and_the_fixed_cve(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    versions = offered_versions(apt_repo, "tzdata")
    assert len(versions) >= 2, "the repository needs an old and a new tzdata"
    old_version, new_version = versions[0], versions[-1]
    old = build_layout(
        write_spec(tmp_path, "old", apt_repo, [f"tzdata={old_version}", "netbase"]),
        tmp_path / "old-layout",
    )
    new = f"{registry.host}/fleet/diffed:new"
    push_spec(write_spec(tmp_path, "new", apt_repo, ["tzdata", "base-files"]), new)
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "CVE-2099-0001.json").write_text(json.dumps(advisory("tzdata", new_version)))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    assert zerocve("db", "update", "--osv", str(feed), env=env).returncode == 0

    shown = zerocve("diff", f"oci:{old}", new, "-o", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    changes = {p["name"]: (p["change"], p["before"], p["after"]) for p in report["packages"]}
    assert changes["tzdata"] == ("upgraded", old_version, new_version)
    assert changes["netbase"][0] == "removed" and changes["base-files"][0] == "added"
    assert [(f["vulnerability"], f["package"], f["version"]) for f in
            report["vulnerabilities"]["fixed"]] == [("CVE-2099-0001", "tzdata", old_version)]
    assert report["vulnerabilities"]["introduced"] == []

    table = zerocve("diff", f"oci:{old}", new, env=env)
    assert "upgraded   tzdata:all" in table.stdout
    assert f"{old_version} → {new_version}" in table.stdout
    assert "vulnerabilities fixed (1):" in table.stdout and "CVE-2099-0001" in table.stdout

    backwards = zerocve("diff", new, f"oci:{old}", "-o", "json", env=env)
    report = json.loads(backwards.stdout)
    assert [f["vulnerability"] for f in report["vulnerabilities"]["introduced"]] == [
        "CVE-2099-0001"
    ]
    same = zerocve("diff", new, new, "--packages-only", env=env)
    assert same.returncode == 0 and same.stdout.strip().endswith("no difference")


def test_diff_of_a_missing_image_is_one_line(tmp_path: Path):
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "cache")}
    result = zerocve("diff", str(tmp_path / "nothing"), str(tmp_path / "neither"),
                     "--packages-only", env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "nothing" in result.stderr
