"""`zerocve fleet check|run|serve|rollback` as a user runs them: what they refuse, and a check
recording the same job however often it runs (the cycles themselves are in test_fleet_e2e)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.aptrepo import AptRepo, SigningKey, make_deb
from support.fleetkit import write_spec


def zerocve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ZEROCVE_STATE_DIR": str(tmp_path / "state"),
            "ZEROCVE_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}


def fleet_file(directory: Path, repository: str = "localhost:5999/team/{name}") -> Path:
    """A fleet of every spec in ``directory/images``."""
    path = directory / "fleet.yaml"
    path.write_text(yaml.safe_dump({"images": [{"spec": "images/*.yaml",
                                                "repository": repository}]}))
    return path


@pytest.mark.slow
def test_check_records_one_job_per_change(apt_repo: AptRepo, tmp_path: Path, env):
    images = tmp_path / "images"
    images.mkdir()
    write_spec(images, "app", apt_repo, ["dash"])
    fleet = fleet_file(tmp_path)
    first = zerocve("fleet", "check", str(fleet), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("app: rebuild planned (job 1): never built (")
    again = zerocve("fleet", "check", str(fleet), env=env)
    assert again.returncode == 0 and again.stdout.startswith("app: rebuild planned (job 1)")


@pytest.mark.slow
def test_a_repository_lacking_one_of_the_fleets_architectures_is_not_consulted_for_it(
    apt_repo: AptRepo, signing_key: SigningKey, tmp_path: Path, env
):
    """The fleet's architectures are amd64 and arm64 (one image has both); the vendor
    repository of another image has amd64 only: the check plans both, with one warning."""
    vendor = AptRepo(root=tmp_path / "vendor", key=signing_key, suites=["bookworm"])
    vendor.publish([make_deb(tmp_path, "vendor-tool", "1.0-1", Architecture="all")], "bookworm")
    images = tmp_path / "images"
    images.mkdir()
    write_spec(images, "multi", apt_repo, ["tzdata"], archs=["amd64", "arm64"])
    write_spec(images, "tool", vendor, ["vendor-tool"])
    fleet = fleet_file(tmp_path)
    for command in ("plan", "check"):
        result = zerocve("fleet", command, str(fleet), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"warning: {vendor.uri} bookworm: no arm64 packages; not consulted for arm64"
        ]
    assert result.stdout.splitlines() == [
        "multi: rebuild planned (job 1): never built (2 packages)",
        "tool: rebuild planned (job 2): never built (1 packages)",
    ]


def test_refusals_are_one_line(tmp_path: Path, env):
    fleet = fleet_file(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "app.yaml").write_text("contents: {packages: [dash]}\n")
    cases = [
        (("fleet", "run", str(fleet)), 2, "give --once"),
        (("fleet", "serve", str(fleet), "--listen", "0.0.0.0:8787"), 2, "loopback only"),
        (("fleet", "serve", str(fleet), "--listen", "8787"), 2, "give HOST:PORT"),
        (("fleet", "rollback", "app"), 3, "no image named 'app' in the store"),
        (("fleet", "check", str(tmp_path / "absent.yaml")), 3, "absent.yaml: cannot read"),
    ]
    for args, code, text in cases:
        result = zerocve(*args, env=env)
        assert (result.returncode, len(result.stderr.strip().splitlines())) == (code, 1), (
            args, result.stderr)
        assert text in result.stderr, (args, result.stderr)
