"""A password in a repository's URI (``http://user:password@host/debian``) authenticates the
fetches and is recorded nowhere: not in the lock file, an error line, the SBOM or the image.
A repository's identity is its URI without user info (``zerocve.user_info``)."""

from __future__ import annotations

import gzip
import json
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.aptrepo import AptRepo
from support.httpkit import WebServer
from support.lockkit import zerocve
from zerocve.api import _repository_key
from zerocve.debian.apt_auth import logins_of
from zerocve.debian.sources import merge_entries, parse_one_line_sources
from zerocve.lock import default_lock_path
from zerocve.spec import ImageSpec, RepositorySpec

USER, PASSWORD = "us er", "s3cr:t/@pw"
USER_INFO = "us%20er:s3cr%3At%2F%40pw"  # as written in a URI
# Every spelling of the credentials a leak could take.
SECRETS = (PASSWORD, "s3cr%3At%2F%40pw", USER_INFO, "us%20er", USER)


def _basic(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def server(apt_repo: AptRepo) -> Iterator[WebServer]:
    """The loopback repository behind a server that answers 401 without the credentials."""
    web = WebServer(apt_repo.root, require=_basic(USER, PASSWORD))
    yield web
    web.close()


def _with(uri: str, user_info: str = USER_INFO) -> str:
    return uri.replace("://", f"://{user_info}@", 1)


def _spec(path: Path, apt_repo: AptRepo, uri: str, suites: list[str] | None = None) -> Path:
    path.write_text(yaml.safe_dump({
        "contents": {
            "repositories": [{"uri": uri, "suites": suites or list(apt_repo.suites),
                              "keyring": str(apt_repo.keyring)}],
            "packages": ["tzdata"],
        },
    }))
    return path


def _leaks(data: bytes) -> list[str]:
    return [secret for secret in SECRETS if secret.encode() in data]


def _files_leak(root: Path) -> dict[str, list[str]]:
    """Every file below ``root`` (gzip layers read inflated) that names a credential."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if leaks := _leaks(data):
            found[str(path)] = leaks
    return found


def test_lock_and_build_authenticate_and_record_no_password(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache of its own: the session's may hold the .debs already.
    monkeypatch.setenv("ZEROCVE_CACHE_DIR", str(tmp_path / "cache"))
    spec = _spec(tmp_path / "image.yaml", apt_repo, _with(server.uri))
    locked = zerocve("lock", spec)
    assert locked.returncode == 0, locked.stderr
    lock_text = default_lock_path(spec).read_text()
    assert _leaks(lock_text.encode()) == []
    uris = {p["uri"] for arch in json.loads(lock_text)["archs"].values()
            for p in [*arch["indices"], *arch["packages"]]}
    assert uris == {server.uri}

    built = zerocve("build", spec, "--locked", "-o", tmp_path / "out" / "app")
    assert built.returncode == 0, built.stderr
    assert _leaks((built.stdout + built.stderr).encode()) == []
    # The layout (config, annotations, layers with the SBOM inside) and the SBOM beside it.
    assert (tmp_path / "out" / "app.spdx.json").is_file()
    assert _files_leak(tmp_path / "out") == {}
    # Every request, the .debs' too, carried the credentials: none was refused.
    assert any(seen.path.endswith(".deb") for seen in server.requests)
    assert {seen.headers.get("Authorization") for seen in server.requests} == {
        _basic(USER, PASSWORD)}


@pytest.mark.parametrize("case", ["suite", "401"])
def test_no_error_line_names_the_password(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path, case: str
) -> None:
    """The repository client's own errors (a suite it does not serve) and the fetcher's (a
    wrong password) name the repository without user info, on one line."""
    if case == "suite":
        spec = _spec(tmp_path / "image.yaml", apt_repo, _with(server.uri), ["nosuch"])
        expected = f"{server.uri} nosuch: "
    else:
        spec = _spec(tmp_path / "image.yaml", apt_repo, _with(server.uri, "us%20er:wrong"))
        expected = "HTTP 401"
    done = zerocve("lock", spec)
    assert done.returncode == 3
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr, done.stderr
    assert _leaks(done.stderr.encode()) == [] and "wrong" not in done.stderr


def test_a_lock_that_names_a_password_is_refused(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path
) -> None:
    """A lock written by an older zerocve (or edited) with user info in its URIs is refused
    with one line saying what to do, naming no password; nothing is fetched for it."""
    spec = _spec(tmp_path / "image.yaml", apt_repo, _with(server.uri))
    assert zerocve("lock", spec).returncode == 0
    lock = default_lock_path(spec)
    lock.write_text(lock.read_text().replace(server.uri, _with(server.uri)))
    asked = len(server.requests)
    done = zerocve("build", spec, "--locked", "-o", tmp_path / "out")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{lock}: archs.amd64.indices[0].uri: " in done.stderr, done.stderr
    assert "delete this lock, lock again and keep the password in apt's auth.conf" in done.stderr
    assert _leaks(done.stderr.encode()) == []
    assert len(server.requests) == asked
    assert not (tmp_path / "out").exists()


def test_a_uri_without_user_info_keeps_its_keys_and_digests() -> None:
    """No new digest for existing users: a repository without user info dumps, keys and
    digests as before the split (values computed by main at 2fc92d3)."""
    repository = RepositorySpec(uri="http://127.0.0.1:8080/debian",
                                suites=["bookworm", "bookworm-security"], keyring="/k.gpg")
    assert _repository_key(repository) == (
        '{"uri":"http://127.0.0.1:8080/debian","suites":["bookworm","bookworm-security"],'
        '"components":["main"],"keyring":"/k.gpg"}')
    spec = ImageSpec.model_validate(
        {"contents": {"repositories": [repository.model_dump()], "packages": ["tzdata"]}})
    assert spec.resolution_digest() == (
        "sha256:b7c05645a077d561f8ba9526cea1cb294d85cb84fc5860c32dd357314ba0b0f5")
    # The same repository with user info has the same identity.
    with_password = RepositorySpec(uri=_with(repository.uri), suites=repository.suites,
                                   keyring="/k.gpg")
    assert _repository_key(with_password) == _repository_key(repository)
    assert with_password.user_info == USER_INFO and repository.user_info is None
    assert _leaks(repr(with_password).encode()) == []


def test_the_hosts_sources_hand_their_user_info_to_the_fetcher_only() -> None:
    entries = parse_one_line_sources(
        f"deb [signed-by=/k.gpg] {_with('http://127.0.0.1:8080/debian/')} bookworm main\n"
        "deb [signed-by=/k.gpg] http://127.0.0.1:8080/debian-security bookworm main\n",
        "sources.list")
    with_password, other = merge_entries(entries, {})
    assert with_password.uri == "http://127.0.0.1:8080/debian"
    assert other.user_info is None
    (login,) = logins_of([with_password, other])
    assert (login.login, login.password) == (USER, PASSWORD)
    # For this repository alone: not its neighbour on the same host, nor another port.
    assert login.applies("http", "127.0.0.1", 8080, "/debian/pool/x.deb")
    assert not login.applies("http", "127.0.0.1", 8080, "/debian-security/dists/bookworm")
    assert not login.applies("http", "127.0.0.1", 80, "/debian/pool/x.deb")
    assert not login.applies("https", "127.0.0.1", 8080, "/debian/pool/x.deb")
