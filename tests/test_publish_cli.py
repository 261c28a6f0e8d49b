"""`zerocve publish` as a user runs it: the installed command, a real registry, skopeo."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.faultproxy import ANSWER_500, FaultProxy
from support.ocilayout import make_layout
from support.registry import Registry

pytestmark = pytest.mark.slow


def zerocve(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200"}
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def publish(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Pushing is under test here, not the gate (tests/test_examples.py covers it)."""
    return zerocve("publish", "--no-scan", *args, home=home)


def raw_digest(reference: str) -> str | None:
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{reference}"],
        capture_output=True,
        text=True,
        env={**os.environ, "REGISTRY_AUTH_FILE": "/nonexistent/auth.json"},
    )
    if result.returncode != 0:
        return None
    return "sha256:" + hashlib.sha256(result.stdout.encode()).hexdigest()


def test_publish_layout_prints_pinned_reference(registry: Registry, tmp_path: Path):
    layout = make_layout(tmp_path / "layout", {"amd64": [{"etc/motd": b"from the cli\n"}]})
    target = f"{registry.host}/cli/app:v1"
    result = publish("--layout", str(layout.root), target, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{target}@{layout.digest}"
    assert raw_digest(target) == layout.digest

    again = publish(
        "--layout", str(layout.root), "--mount-from", "cli/app",
        f"{registry.host}/cli/other:v1", home=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert raw_digest(f"{registry.host}/cli/other:v1") == layout.digest


def test_publish_failure_is_one_line_and_exit_3(registry: Registry, tmp_path: Path):
    layout = make_layout(tmp_path / "layout", {"amd64": [{"etc/motd": b"never tagged\n"}]})

    def tag_put_fails(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if method == "PUT" and path.endswith("/manifests/v1") else None

    with FaultProxy(registry.host, tag_put_fails) as proxy:
        target = f"{proxy.host}/cli/broken:v1"
        result = publish("--layout", str(layout.root), target, home=tmp_path)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {proxy.host}/cli/broken: put manifest v1: HTTP 500")
    assert result.stdout == ""
    assert raw_digest(f"{registry.host}/cli/broken:v1") is None


def test_publish_from_spec_matches_build(spec_file, registry: Registry, tmp_path: Path):
    spec = spec_file(["netbase", "tzdata"], name="publish.yaml")
    target = f"{registry.host}/cli/built:v1"
    layout_dir = tmp_path / "layout"
    pushed = publish(str(spec), target, "--layout", str(layout_dir), home=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    reference, _, digest = pushed.stdout.strip().partition("@")
    assert reference == target
    assert raw_digest(target) == digest
    index = json.loads((layout_dir / "index.json").read_text())["manifests"][0]
    assert index["digest"] == digest
    assert index["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    # `zerocve build` gives the same bytes; without --layout, publish builds in a temporary dir.
    built = zerocve("build", str(spec), "-o", str(tmp_path / "built"), home=tmp_path)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == digest
    again = publish(str(spec), f"{registry.host}/cli/built:v2", home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{registry.host}/cli/built:v2@{digest}"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["127.0.0.1:5000/x:v1"], "give an IMAGE.YAML to build, or --layout DIR"),
        (["--layout", "{tmp}", "127.0.0.1:5000/X"], "repository names are lowercase"),
        (["--layout", "{tmp}", "127.0.0.1:5000/x"], "not an OCI image layout"),
        (["a", "b", "127.0.0.1:5000/x"], "got 3 arguments"),
    ],
)
def test_usage_errors_exit_2(args: list[str], fragment: str, tmp_path: Path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = publish(*args, home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
