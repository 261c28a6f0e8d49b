"""The examples end to end, as a user runs them: lock, build, publish to a real registry on
127.0.0.1, then checked by independent tools (skopeo, umoci, dpkg-query) and run in podman."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.aptrepo import AptRepo
from support.data import OSV_ZIP, advisory
from support.registry import Registry
from support.schemas import validate
from zerocve.debian.version import sort_key

EXAMPLES = Path(__file__).parent.parent / "examples"


def zerocve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args], capture_output=True, text=True, env=env
    )


def tool(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user whose advisory DB holds the real OSV data (older than the repository's packages,
    so the examples are clean)."""
    cache = tmp_path_factory.mktemp("user-cache")
    environment = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache), "COLUMNS": "200"}
    updated = zerocve("db", "update", "--osv", str(OSV_ZIP), env=environment)
    assert updated.returncode == 0, updated.stderr
    return environment


def example_spec(name: str, repo: AptRepo, directory: Path, *, http: bool) -> Path:
    """The example as shipped, pointed at the loopback repository instead of host sources."""
    spec = yaml.safe_load((EXAMPLES / name).read_text())
    spec["contents"]["repositories"] = [
        {
            "uri": repo.http_uri if http else repo.uri,
            "suites": repo.suites,
            "keyring": str(repo.keyring),
        }
    ]
    path = directory / name
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("name", "http"), [("static.yaml", False), ("python.yaml", True)])
def test_example_builds_reproducibly_publishes_and_checks_out(
    name: str, http: bool, apt_repo: AptRepo, registry: Registry, env, tmp_path: Path
):
    spec = example_spec(name, apt_repo, tmp_path, http=http)
    locked = zerocve("lock", str(spec), env=env)
    assert locked.returncode == 0, locked.stderr
    lock = json.loads(spec.with_suffix(".lock.json").read_text())
    wanted = sorted(p["name"] for p in lock["archs"]["amd64"]["packages"])

    first = zerocve("build", str(spec), "-o", str(tmp_path / "one"), env=env)
    assert first.returncode == 0, first.stderr
    assert "scan: " in first.stderr  # the build was checked against the advisory DB
    again = zerocve("build", str(spec), "-o", str(tmp_path / "two"), "--no-cache", env=env)
    assert again.returncode == 0, again.stderr
    digest = first.stdout.strip()
    assert digest.startswith("sha256:") and again.stdout.strip() == digest

    ref = f"{registry.host}/examples/{spec.stem}:v1"
    pushed = zerocve("publish", str(spec), ref, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == f"{ref}@{digest}"

    inspected = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"))
    assert inspected["Digest"] == digest
    config = json.loads(
        tool("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{ref}")
    )
    assert config["config"]["User"] == "65532:65532"

    bundle = tmp_path / "bundle"
    tool("umoci", "unpack", "--image", f"{tmp_path / 'one'}:latest", str(bundle))
    rootfs = bundle / "rootfs"
    listed = tool("dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W", "-f=${Package}\\n")
    assert sorted(listed.split()) == wanted  # exactly the locked packages, once each
    assert os.readlink(rootfs / "bin") == "usr/bin"
    assert "nonroot:x:65532:65532" in (rootfs / "etc/passwd").read_text()
    assert (rootfs / "etc/ssl/certs/ca-certificates.crt").stat().st_size > 100_000
    for absent in ("dpkg", "debconf", "tar", "perl-base", "bash", "apt"):
        assert absent not in wanted

    # SBOMs: one inside the image, one beside the layout naming the image digest.
    inside = json.loads((rootfs / "var/lib/db/sbom/image.spdx.json").read_text())
    beside = json.loads((tmp_path / "one.spdx.json").read_text())
    for document in (inside, beside):
        validate(document, "spdx-schema-2.3.json")
        described = {p["name"] for p in document["packages"] if p.get("primaryPackagePurpose")
                     != "SOURCE"}
        assert set(wanted) <= described
    purls = [ref["referenceLocator"] for p in beside["packages"] for ref in p["externalRefs"]]
    assert any(purl.endswith(f"@{digest}") for purl in purls)
    assert any(purl.startswith("pkg:deb/debian/") and "distro=debian-12" in purl for purl in purls)


@pytest.mark.slow
def test_python_image_runs_from_the_registry_in_podman(
    apt_repo: AptRepo, registry: Registry, env, tmp_path: Path
):
    spec = example_spec("python.yaml", apt_repo, tmp_path, http=False)
    ref = f"{registry.host}/examples/python-run:v1"
    pushed = zerocve("publish", str(spec), ref, env=env)
    assert pushed.returncode == 0, pushed.stderr
    # glibc's gconv modules are left out by default: iconv between the charsets built into
    # libc still opens, one that needs a module does not, and Python's codecs (its own) work.
    script = "\n".join([
        "import ctypes, locale, os, ssl",
        "print(ssl.OPENSSL_VERSION)",
        "print(os.getuid(), os.getcwd())",
        "libc = ctypes.CDLL(None)",
        "libc.iconv_open.restype = ctypes.c_void_p",
        "opens = lambda to, fro: libc.iconv_open(to, fro) != ctypes.c_void_p(-1).value",
        "print(opens(b'UTF-8', b'UCS-4'), opens(b'UTF-8', b'ISO-8859-1'))",
        "print('\u00e9'.encode('latin-1').hex(), locale.getpreferredencoding())",
    ])
    try:
        out = tool("podman", "run", "--rm", "--tls-verify=false", "--network=none", ref,
                   "-c", script)
    finally:
        subprocess.run(["podman", "rmi", "-f", ref], capture_output=True)
    version, ids, iconv, codecs = out.strip().splitlines()
    assert version.startswith("OpenSSL 3.")
    assert ids == "65532 /app"
    assert iconv == "True False"
    assert codecs == "e9 utf-8"  # Python's UTF-8 mode in the C.UTF-8 locale


def offered_versions(repo: AptRepo, name: str) -> list[str]:
    """Every version of ``name`` the loopback repository offers, oldest first."""
    found = set()
    for suite in repo.suites:
        text = (repo.root / "dists" / suite / "main" / f"binary-{repo.arch}" / "Packages")
        for stanza in text.read_text().split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in stanza.splitlines() if ": " in line
            )
            if fields.get("Package") == name:
                found.add(fields["Version"])
    return sorted(found, key=sort_key)


def user_with_advisory(tmp_path: Path, source: str, fixed: str) -> dict[str, str]:
    feed = tmp_path / f"osv-{fixed}"
    feed.mkdir()
    (feed / "CVE-2099-0001.json").write_text(json.dumps(advisory(source, fixed)))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / f"cache-{fixed}"), "COLUMNS": "200"}
    assert zerocve("db", "update", "--osv", str(feed), env=env).returncode == 0
    return env


@pytest.mark.slow
def test_publish_refuses_a_fixable_cve_and_moves_no_tag(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    versions = offered_versions(apt_repo, "tzdata")
    if len(versions) < 2:
        pytest.skip("the mirror offers one tzdata version only: no older one to pin")
    old, new = versions[0], versions[-1]
    spec = example_spec("static.yaml", apt_repo, tmp_path, http=False)
    pinned = yaml.safe_load(spec.read_text())
    pinned["contents"]["packages"] = [
        f"tzdata={old}" if name == "tzdata" else name for name in pinned["contents"]["packages"]
    ]
    spec.write_text(yaml.safe_dump(pinned))
    env = user_with_advisory(tmp_path, "tzdata", new)  # the fix is in bookworm-security

    ref = f"{registry.host}/examples/refused:v1"
    refused = zerocve("publish", str(spec), ref, env=env)
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.strip().splitlines()[-1:]
    assert "refusing to publish" in line and "CVE-2099-0001" in line
    assert f"tzdata {old} → {new}" in line
    missing = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True
    )
    assert missing.returncode != 0  # nothing was tagged

    # A VEX statement that the image is not affected lets it through.
    vex = tmp_path / "triage.vex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.invalid/vex/1",
        "author": "test",
        "timestamp": "2026-11-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2099-0001"},
            "products": [{"@id": "pkg:deb/debian/tzdata"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }],
    }))
    allowed = zerocve("publish", str(spec), ref, "--vex", str(vex), env=env)
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.slow
def test_a_fix_the_repositories_lack_is_fix_unavailable_not_fixable(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    spec = example_spec("static.yaml", apt_repo, tmp_path, http=False)
    env = user_with_advisory(tmp_path, "tzdata", "9999z-1")  # no such version anywhere
    ref = f"{registry.host}/examples/unavailable:v1"

    published = zerocve("publish", str(spec), ref, env=env)  # --fail-on fixed: nothing to do
    assert published.returncode == 0, published.stderr
    assert "1 fix-unavailable" in published.stderr
    stricter = zerocve("publish", str(spec), ref.replace(":v1", ":v2"), "--fail-on", "open",
                       env=env)
    assert stricter.returncode == 1
    assert "CVE-2099-0001" in stricter.stderr


@pytest.mark.slow
def test_publish_without_an_advisory_db_says_what_to_do(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    spec = example_spec("static.yaml", apt_repo, tmp_path, http=False)
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "empty"), "COLUMNS": "200"}
    result = zerocve("publish", str(spec), f"{registry.host}/examples/nodb:v1", env=env)
    assert result.returncode == 3
    assert "no advisory DB" in result.stderr and "--no-scan" in result.stderr
