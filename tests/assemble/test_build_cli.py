"""``zerocve build`` end to end: spec and loopback repository in, OCI layout or archive out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from craft import Member, directory, make_deb

pytestmark = pytest.mark.slow
STATIC = ["base-files", "netbase", "tzdata", "ca-certificates"]


def zerocve(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, cwd=cwd, check=False)


def test_build_layout_twice_same_digest(spec_file, tmp_path: Path) -> None:
    spec = spec_file(STATIC)
    assert zerocve("lock", str(spec)).returncode == 0
    first = zerocve("build", str(spec), "-o", str(tmp_path / "out"), "--locked")
    assert first.returncode == 0, first.stderr
    digest = first.stdout.strip()
    assert digest.startswith("sha256:")
    index = json.loads((tmp_path / "out/index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    second = zerocve("build", str(spec), "--tar", str(tmp_path / "image.tar"), "--locked")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == digest
    assert "image read from the build cache" in second.stderr
    info = subprocess.run(["skopeo", "inspect", f"oci-archive:{tmp_path / 'image.tar'}"],
                          capture_output=True, text=True, check=True)
    assert json.loads(info.stdout)["Digest"] == digest
    third = zerocve("build", str(spec), "-o", str(tmp_path / "out"), "--locked", "--no-cache")
    assert third.returncode == 0, third.stderr
    assert third.stdout.strip() == digest and "build cache" not in third.stderr


def test_a_locked_rebuild_needs_no_index_file(spec_file, tmp_path: Path) -> None:
    """The lock is verified from the kept signed Release and the parsed-index cache: the
    Packages files themselves are neither read nor fetched again."""
    spec = spec_file(["netbase"], name="noindex.yaml")
    cache = tmp_path / "cache"
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                              text=True, env=env, check=False)

    assert run("lock", str(spec)).returncode == 0
    first = run("build", str(spec), "-o", str(tmp_path / "one"), "--locked", "--no-scan")
    assert first.returncode == 0, first.stderr
    lock = json.loads(spec.with_name("noindex.lock.json").read_text())
    index_files = [cache / "blobs/sha256" / i["sha256"] for i in lock["archs"]["amd64"]["indices"]]
    assert all(path.is_file() for path in index_files)
    for path in index_files:
        path.unlink()
    again = run("build", str(spec), "-o", str(tmp_path / "two"), "--locked", "--no-scan")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert not any(path.exists() for path in index_files)


def test_locked_without_lock_fails(spec_file, tmp_path: Path) -> None:
    spec = spec_file(["netbase"], name="nolock.yaml")
    done = zerocve("build", str(spec), "-o", str(tmp_path / "out"), "--locked")
    assert done.returncode == 3
    assert "nolock.lock.json: no lock file" in done.stderr
    assert not (tmp_path / "out").exists()


def test_output_is_required_once(spec_file, tmp_path: Path) -> None:
    spec = spec_file(["netbase"])
    done = zerocve("build", str(spec))
    assert done.returncode == 2 and "exactly one of -o DIR or --tar FILE" in done.stderr


def _private_suite(apt_repo, tmp_path: Path, suite: str, debs: list[Path],
                   packages: list[str]) -> Path:
    """A suite of its own for crafted packages, so other tests never see them."""
    apt_repo.publish(debs, suite)
    spec = tmp_path / f"{suite}.yaml"
    spec.write_text(yaml.safe_dump({
        "contents": {
            "repositories": [{"uri": apt_repo.uri, "suites": [suite],
                              "keyring": str(apt_repo.keyring)}],
            "packages": packages,
        },
    }))
    return spec


def test_path_traversal_deb_is_refused_and_nothing_written(apt_repo, tmp_path: Path) -> None:
    evil = make_deb(tmp_path / "debs", "zz-evil", [Member("./../etc/evil", data=b"pwned\n")])
    spec = _private_suite(apt_repo, tmp_path, "zerocve-evil", [evil], ["zz-evil"])
    out = tmp_path / "out"
    done = zerocve("build", str(spec), "-o", str(out))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: zz-evil 1.0: ./../etc/evil: path escapes the root ('..')"]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debs", "zerocve-evil.yaml"]


def test_conflicting_packages_are_refused(apt_repo, tmp_path: Path) -> None:
    debs = [
        make_deb(tmp_path / "debs", name, [directory("./etc/"),
                                           Member("./etc/app.conf", data=name.encode())])
        for name in ("zz-left", "zz-right")
    ]
    spec = _private_suite(apt_repo, tmp_path, "zerocve-conflict", debs, ["zz-left", "zz-right"])
    done = zerocve("build", str(spec), "--tar", str(tmp_path / "image.tar"))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: /etc/app.conf: conflicting files in zz-left (file) and zz-right (file), and "
        "neither Replaces the other"]
    assert not (tmp_path / "image.tar").exists()


def test_replaces_resolves_the_conflict(apt_repo, tmp_path: Path) -> None:
    old = make_deb(tmp_path / "debs", "zz-old", [directory("./etc/"),
                                                 Member("./etc/app.conf", data=b"old")])
    new = make_deb(tmp_path / "debs", "zz-new", [directory("./etc/"),
                                                 Member("./etc/app.conf", data=b"new")],
                   control_extra={"Replaces": "zz-old"})
    spec = _private_suite(apt_repo, tmp_path, "zerocve-replaces", [old, new],
                          ["zz-old", "zz-new"])
    done = zerocve("build", str(spec), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'out'}:latest",
                    str(bundle)], check=True, capture_output=True)
    assert (bundle / "rootfs/etc/app.conf").read_bytes() == b"new"
    listed = (bundle / "rootfs/var/lib/dpkg/info/zz-old.list").read_text()
    assert "/etc/app.conf" not in listed
