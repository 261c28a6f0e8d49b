"""The gate cannot be switched off from the spec: ``paths`` and home directories may not
replace what packages or zerocve write (the dpkg database above all), and the gate holds the
packages it reads back from the written image to the lock's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from assemble.craft import Member, make_deb
from support.aptrepo import AptRepo
from support.registry import Registry
from zerocve.cli._gate import check_image
from zerocve.errors import BuildError, SpecError
from zerocve.lock import LockedPackage, read_lock
from zerocve.settings import Settings
from zerocve.spec import parse_spec
from zerocve.vuln.gate import package_set_difference


def zerocve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, check=False, timeout=300)


def write_spec(path: Path, apt_repo: AptRepo, **extra: Any) -> Path:
    path.write_text(yaml.safe_dump({
        "contents": {
            "repositories": [{"uri": apt_repo.uri, "suites": list(apt_repo.suites),
                              "keyring": str(apt_repo.keyring)}],
            "packages": ["netbase"],
        },
        **extra,
    }))
    return path


PROTECTED = {
    "empty-status": ({"path": "/var/lib/dpkg/status", "type": "empty-file"}, "/var/lib/dpkg"),
    "status-as-directory": ({"path": "/var/lib/dpkg/status"}, "/var/lib/dpkg"),
    "status-d-symlink": ({"path": "/var/lib/dpkg/status.d/x", "type": "symlink",
                          "source": "/etc/hosts"}, "/var/lib/dpkg"),
    "admindir-symlink": ({"path": "/var/lib/dpkg", "type": "symlink", "source": "/tmp"},
                         "/var/lib/dpkg"),
    "os-release": ({"path": "/etc/os-release", "type": "empty-file"}, "/etc/os-release"),
    "usr-os-release": ({"path": "/usr/lib/os-release", "type": "symlink",
                        "source": "/dev/null"}, "/usr/lib/os-release"),
    "debian-version": ({"path": "/etc/debian_version", "type": "empty-file"},
                       "/etc/debian_version"),
    "passwd": ({"path": "/etc/passwd", "type": "empty-file"}, "/etc/passwd"),
    "group": ({"path": "/etc/group", "type": "empty-file"}, "/etc/group"),
    "shadow": ({"path": "/etc/shadow", "type": "empty-file"}, "/etc/shadow"),
    "embedded-sbom": ({"path": "/var/lib/db/sbom/image.spdx.json", "type": "empty-file"},
                      "/var/lib/db/sbom"),
}


@pytest.mark.parametrize(("entry", "owner"), list(PROTECTED.values()), ids=list(PROTECTED))
def test_paths_may_not_touch_image_metadata(entry: dict[str, str], owner: str) -> None:
    text = yaml.safe_dump({"contents": {"packages": ["netbase"]}, "paths": [entry]})
    with pytest.raises(SpecError, match=rf"^evil.yaml: paths\[0\].path: {entry['path']} is at "
                       rf"or below {owner}, which the image's own metadata owns"):
        parse_spec(text, "evil.yaml")


@pytest.mark.parametrize("above", ["/var", "/var/lib", "/etc", "/usr/lib"])
def test_no_symlink_above_image_metadata(above: str) -> None:
    text = yaml.safe_dump({"contents": {"packages": ["netbase"]},
                           "paths": [{"path": above, "type": "symlink", "source": "/tmp"}]})
    with pytest.raises(SpecError, match=rf"paths\[0\].path: {above} lies above protected image "
                       "metadata; only a directory may be placed there"):
        parse_spec(text, "evil.yaml")
    # A directory there is fine: it only sets a mode and an owner.
    parse_spec(text.replace("type: symlink", "type: directory").replace("source: /tmp", ""))


def test_home_may_not_be_the_dpkg_database() -> None:
    text = yaml.safe_dump({"contents": {"packages": ["netbase"]}, "accounts": {
        "groups": [{"groupname": "app", "gid": 10}],
        "users": [{"username": "app", "uid": 10, "gid": 10, "home": "/var/lib/dpkg"}]}})
    with pytest.raises(SpecError, match=r"accounts.users\[0\].home: /var/lib/dpkg is at or "
                       "below /var/lib/dpkg"):
        parse_spec(text, "evil.yaml")


@pytest.mark.slow
def test_publish_refuses_the_empty_status_attack(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
) -> None:
    """The attack as it was seen: the build reported 0 packages and the image was pushed."""
    spec = write_spec(tmp_path / "evil.yaml", apt_repo,
                      paths=[{"path": "/var/lib/dpkg/status", "type": "empty-file"}])
    target = f"{registry.host}/evil/app:1"
    done = zerocve("publish", str(spec), target, "--fail-on", "open")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: {spec}: paths[0].path: /var/lib/dpkg/status is at or below /var/lib/dpkg, "
        "which the image's own metadata owns (the scanner reads it); choose another path"]
    tags = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"{registry.url}/v2/evil/app/tags/list"],
                          capture_output=True, text=True, check=False)
    assert tags.stdout == "404"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"path": "/etc/services", "type": "empty-file"},
         "paths[0].path: /etc/services would replace the file package netbase writes there"),
        ({"path": "/etc/services", "type": "symlink", "source": "/dev/null"},
         "paths[0].path: /etc/services would replace the file package netbase writes there"),
        ({"path": "/lib", "type": "directory"},
         "paths[0].path: /lib would replace the symlink merged /usr writes there"),
        ({"path": "/tmp", "type": "empty-file"},
         "paths[0].path: /tmp would replace the dir /tmp writes there"),
    ],
    ids=["empty-package-file", "package-file-to-symlink", "merged-usr-link", "tmp-to-file"],
)
def test_paths_may_only_add_to_the_image(
    apt_repo: AptRepo, tmp_path: Path, entry: dict[str, str], message: str
) -> None:
    spec = write_spec(tmp_path / "app.yaml", apt_repo, paths=[entry])
    out = tmp_path / "out"
    done = zerocve("build", str(spec), "-o", str(out), "--no-scan")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [f"error: {message}; paths may only add to "
                                                "the image"]
    assert not out.exists()


def _locked(name: str, version: str, arch: str = "all") -> LockedPackage:
    return LockedPackage(name=name, version=version, architecture=arch, source=name,
                         source_version=version, uri="file:///r", suite="s", component="main",
                         filename=f"pool/{name}.deb", size=1, sha256="0" * 64)


def test_package_set_difference_names_what_is_missing_and_extra() -> None:
    lock = [_locked("netbase", "6.4"), _locked("libc6", "2.36-9", "amd64")]
    assert package_set_difference(lock, lock) is None
    assert package_set_difference([], lock) == (
        "the image's package database differs from the lock (0 packages read back, 2 locked): "
        "2 missing: libc6 2.36-9 (amd64), netbase 6.4 (all)")
    older = [_locked("netbase", "6.3"), _locked("libc6", "2.36-9", "amd64")]
    assert package_set_difference(older, lock) == (
        "the image's package database differs from the lock (2 packages read back, 2 locked): "
        "1 missing: netbase 6.4 (all); 1 not in the lock: netbase 6.3 (all)")
    other_arch = [_locked("netbase", "6.4"), _locked("libc6", "2.36-9", "arm64")]
    assert "1 not in the lock: libc6 2.36-9 (arm64)" in str(
        package_set_difference(other_arch, lock))


@pytest.mark.slow
def test_gate_holds_the_written_image_to_the_lock(apt_repo: AptRepo, tmp_path: Path) -> None:
    """The gate reads the packages back from the written layout (as any scanner would) and
    compares them with the lock, with or without an advisory DB."""
    spec = write_spec(tmp_path / "app.yaml", apt_repo)
    assert zerocve("lock", str(spec)).returncode == 0
    out = tmp_path / "out"
    built = zerocve("build", str(spec), "-o", str(out), "--locked")
    assert built.returncode == 0, built.stderr
    lock = read_lock(tmp_path / "app.lock.json")
    locked = lock.archs["amd64"].packages
    settings = Settings.from_env(db_path=tmp_path / "no.db")

    def check(packages: list[LockedPackage]) -> None:
        amd64 = lock.archs["amd64"].model_copy(update={"packages": packages})
        check_image(out, settings, action="publish", require_db=False, fail_on=None,
                    min_severity=None, vex=(), indices=None,
                    lock=lock.model_copy(update={"archs": {"amd64": amd64}}))

    check(locked)
    extra = [*locked, _locked("openssl", "3.0.15-1~deb12u1", "amd64")]
    with pytest.raises(BuildError) as caught:
        check(extra)
    assert caught.value.diagnostics() == (
        f"{out}: the image's package database differs from the lock ({len(locked)} packages "
        f"read back, {len(extra)} locked): 1 missing: openssl 3.0.15-1~deb12u1 (amd64); "
        "refusing to publish")
    with pytest.raises(BuildError, match=r"1 not in the lock: netbase .* \(all\)"):
        check([p for p in locked if p.name != "netbase"])


@pytest.mark.slow
def test_a_package_adding_to_the_dpkg_database_fails_the_build(
    apt_repo: AptRepo, tmp_path: Path
) -> None:
    """A package that ships its own ``status.d`` stanza makes the scanner see a package the
    lock does not hold: the build reads the image back and refuses (exit 3), DB or not."""
    stanza = b"Package: decoy\nStatus: install ok installed\nVersion: 9.9\nArchitecture: all\n"
    deb = make_deb(tmp_path / "debs", "zz-decoy", [
        Member("./var/lib/dpkg/status.d/decoy", data=stanza)])
    apt_repo.publish([deb], "zerocve-decoy")
    spec = tmp_path / "decoy.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": ["zerocve-decoy"],
                          "keyring": str(apt_repo.keyring)}],
        "packages": ["zz-decoy"]}}))
    out = tmp_path / "out"
    done = zerocve("build", str(spec), "-o", str(out), "--db", str(tmp_path / "no.db"))
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {out}: the image's package database differs from the lock (2 packages read "
        "back, 1 locked): 1 not in the lock: decoy 9.9 (all); refusing to build")
