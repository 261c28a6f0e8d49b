"""The shared fixtures themselves: the repository is really signed, the registry really serves."""

from __future__ import annotations

import subprocess

import httpx


def test_apt_repo_is_signed_and_served(apt_repo):
    for suite in apt_repo.suites:
        inrelease = apt_repo.root / "dists" / suite / "InRelease"
        done = subprocess.run(
            ["gpgv", "--keyring", str(apt_repo.keyring), str(inrelease)], capture_output=True
        )
        assert done.returncode == 0, done.stderr
    served = httpx.get(f"{apt_repo.http_uri}/dists/bookworm/InRelease")
    assert served.status_code == 200
    assert served.content == (apt_repo.root / "dists/bookworm/InRelease").read_bytes()
    packages = (apt_repo.root / "dists/bookworm/main/binary-amd64/Packages").read_text()
    assert "\nPackage: python3\n" in "\n" + packages


def test_registry_answers_distribution_api(registry):
    response = httpx.get(f"{registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
