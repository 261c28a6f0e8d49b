"""Auth files, challenge parsing, and real basic (htpasswd) and bearer (token server) flows
against docker-registry on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.ocilayout import make_layout
from support.registry import Registry, start_registry
from support.tokenserver import TokenServer
from zerocve.errors import RegistryError
from zerocve.oci.auth import (
    Challenge,
    Credentials,
    lookup_credentials,
    parse_challenge,
)
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient, compute_digest
from zerocve.progress import Reporter
from zerocve.publish import push_layout
from zerocve.settings import registry_auth_files

USER, PASSWORD = "alice", "s3cret:with:colons"


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def write_auth(path: Path, auths: dict[str, object], **extra: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths, **extra}))
    return path


def entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- auth files (pure, on temp files) -------------------------------------------------------


def test_auth_file_order(tmp_path: Path):
    env = {
        "HOME": str(tmp_path),
        "REGISTRY_AUTH_FILE": "/a/auth.json",
        "XDG_RUNTIME_DIR": "/run/user/1",
        "DOCKER_CONFIG": "/d",
    }
    assert registry_auth_files(env) == (
        Path("/a/auth.json"),
        Path("/run/user/1/containers/auth.json"),
        tmp_path / ".config/containers/auth.json",
        Path("/d/config.json"),
    )
    assert registry_auth_files({"HOME": "/h"}) == (
        Path("/h/.config/containers/auth.json"),
        Path("/h/.docker/config.json"),
    )


def test_first_file_naming_the_host_wins(tmp_path: Path):
    podman = write_auth(
        tmp_path / "run/containers/auth.json", {"reg.example:5000": entry("p", "1")}
    )
    write_auth(tmp_path / ".docker/config.json", {"reg.example:5000": entry("d", "2"),
                                                  "other.example": entry("o", "3")})  # fmt: skip
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    files = registry_auth_files(env)
    found = lookup_credentials("reg.example:5000", files)
    assert found.credentials == Credentials("p", "1") and found.source == podman
    assert lookup_credentials("other.example", files).credentials == Credentials("o", "3")
    assert lookup_credentials("nowhere.example", files).credentials is None
    assert "1" not in repr(found.credentials)  # passwords stay out of logs and tracebacks


def test_url_keys_and_docker_hub(tmp_path: Path):
    write_auth(
        tmp_path / ".docker/config.json",
        {"https://index.docker.io/v1/": entry("hub", "x"), "https://reg.example": entry("r", "y")},
    )
    files = registry_auth_files({"HOME": str(tmp_path)})
    assert lookup_credentials("registry-1.docker.io", files).credentials == Credentials("hub", "x")
    assert lookup_credentials("reg.example", files).credentials == Credentials("r", "y")


def test_password_may_contain_colons(tmp_path: Path):
    write_auth(tmp_path / ".docker/config.json", {"r.example": entry(USER, PASSWORD)})
    files = registry_auth_files({"HOME": str(tmp_path)})
    found = lookup_credentials("r.example", files).credentials
    assert found == Credentials(USER, PASSWORD)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "config.json:1:2: invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"auths": {"r.example": {"auth": "%%%"}}}', "auths.r.example.auth: not base64"),
        ('{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}', "no user:password pair"),
    ],
)
def test_bad_auth_file_is_named(tmp_path: Path, content: str, fragment: str):
    path = tmp_path / ".docker/config.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RegistryError) as info:
        lookup_credentials("r.example", registry_auth_files({"HOME": str(tmp_path)}))
    assert info.value.diagnostics().startswith(f"{path}:")
    assert fragment in info.value.diagnostics()


def test_credential_helpers_are_reported(tmp_path: Path):
    path = write_auth(tmp_path / ".docker/config.json", {}, credHelpers={"r.example": "ecr-login"})
    found = lookup_credentials("r.example", registry_auth_files({"HOME": str(tmp_path)}))
    assert found.credentials is None
    assert found.unsupported is not None
    assert found.unsupported.startswith(f"{path}: credHelpers.r.example = 'ecr-login'")
    write_auth(path, {}, credsStore="desktop")
    assert "credsStore = 'desktop'" in str(
        lookup_credentials("x", registry_auth_files({"HOME": str(tmp_path)})).unsupported
    )


# ---- challenge parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:a/b:pull,push"',
            Challenge("bearer", {"realm": "https://auth.example/token",
                                 "service": "registry.example",
                                 "scope": "repository:a/b:pull,push"}),
        ),
        ('Basic realm="zerocve-test"', Challenge("basic", {"realm": "zerocve-test"})),
        ("bearer realm=http://t/x, service=s",
         Challenge("bearer", {"realm": "http://t/x", "service": "s"})),
        (
            'Bearer realm="r",error="insufficient_scope",'
            'scope="repository:a:pull repository:b:pull"',
            Challenge("bearer", {"realm": "r", "error": "insufficient_scope",
                                 "scope": "repository:a:pull repository:b:pull"}),
        ),
        ('Bearer realm="quote \\" inside"', Challenge("bearer", {"realm": 'quote " inside'})),
        ("Bearer", Challenge("bearer", {})),
    ],
)  # fmt: skip
def test_parse_challenge(header: str, expected: Challenge):
    assert parse_challenge(header) == expected


# ---- basic auth against docker-registry with htpasswd ---------------------------------------


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("basic-registry")
    htpasswd = root / "htpasswd"
    line = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
    ).stdout
    htpasswd.write_text(line)
    registry = start_registry(root, htpasswd=htpasswd)
    yield registry
    registry.stop()


def docker_config(tmp_path: Path, host: str, user: str, password: str) -> dict[str, str]:
    write_auth(tmp_path / "docker/config.json", {host: entry(user, password)})
    return {"HOME": str(tmp_path / "home"), "DOCKER_CONFIG": str(tmp_path / "docker")}


def test_basic_auth_push_and_pull(basic_registry: Registry, tmp_path: Path):
    env = docker_config(tmp_path, basic_registry.host, USER, PASSWORD)
    layout = make_layout(tmp_path / "layout", {"amd64": [{"f": b"basic"}]})
    with RegistryClient(basic_registry.host, auth_files=registry_auth_files(env)) as client:
        ref = parse_reference(f"{basic_registry.host}/auth/basic:v1")
        assert push_layout(layout.root, ref, client).digest == layout.digest
        assert client.head_manifest("auth/basic", "v1") == layout.digest
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"--creds={USER}:{PASSWORD}",
         f"docker://{basic_registry.host}/auth/basic:v1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert compute_digest(result.stdout.encode()) == layout.digest


def test_basic_auth_without_credentials(basic_registry: Registry, tmp_path: Path):
    with RegistryClient(basic_registry.host, auth_files=(), retries=0) as client:
        with pytest.raises(RegistryError) as info:
            client.blob_exists("auth/basic", "sha256:" + "a" * 64)
    assert info.value.diagnostics() == (
        f"{basic_registry.host}/auth/basic: check blob sha256:aaaaaaaaaaaa: HTTP 401; "
        f"no credentials for {basic_registry.host} in the auth files (docker/podman login)"
    )


def test_basic_auth_wrong_password(basic_registry: Registry, tmp_path: Path):
    env = docker_config(tmp_path, basic_registry.host, USER, "wrong")
    files = registry_auth_files(env)
    with RegistryClient(basic_registry.host, auth_files=files, retries=0) as client:
        with pytest.raises(RegistryError, match=f"HTTP 401.*user '{USER}' from .*config.json"):
            client.get_manifest("auth/basic", "v1")


# ---- bearer tokens against docker-registry in token mode ------------------------------------


@pytest.fixture(scope="module")
def token_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenServer]]:
    root = tmp_path_factory.mktemp("token-registry")
    server = TokenServer(root / "auth", {USER: PASSWORD})
    registry = start_registry(root / "registry", auth_yaml=server.auth_yaml())
    yield registry, server
    registry.stop()
    server.close()


def wants(scopes: list[str]) -> set[tuple[str, frozenset[str]]]:
    """Requested scopes as (repository, actions); the registry orders actions at random."""
    return {(s.split(":")[1], frozenset(s.split(":")[2].split(","))) for s in scopes}


def test_bearer_push_mount_and_token_cache(token_setup, tmp_path: Path):
    registry, server = token_setup
    env = docker_config(tmp_path, registry.host, USER, PASSWORD)
    layout = make_layout(tmp_path / "layout", {"amd64": [{"f": b"bearer"}, {"g": b"two"}]})
    server.requests.clear()
    with RegistryClient(registry.host, auth_files=registry_auth_files(env)) as client:
        ref = parse_reference(f"{registry.host}/auth/bearer:v1")
        assert push_layout(layout.root, ref, client).digest == layout.digest
        # One token per scope (HEAD needs pull; uploads pull,push), reused for every request.
        assert [(user, wants(scopes)) for user, scopes in server.requests] == [
            (USER, {("auth/bearer", frozenset({"pull"}))}),
            (USER, {("auth/bearer", frozenset({"pull", "push"}))}),
        ]
        copy = parse_reference(f"{registry.host}/auth/copy:v1")
        notes = Notes()
        push_layout(layout.root, copy, client, from_repo="auth/bearer", reporter=notes)
    assert len(notes.notes) == len(layout.blobs) - 1
    assert all(note.endswith("mounted from auth/bearer") for note in notes.notes)
    # The mount needed one token covering both repositories, as the registry challenged.
    wanted = {("auth/copy", frozenset({"pull", "push"})), ("auth/bearer", frozenset({"pull"}))}
    assert (USER, wanted) in [(user, wants(scopes)) for user, scopes in server.requests]
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"--creds={USER}:{PASSWORD}",
         f"docker://{registry.host}/auth/copy:v1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert compute_digest(result.stdout.encode()) == layout.digest


def test_bearer_anonymous_pull_but_no_push(token_setup, tmp_path: Path):
    registry, server = token_setup
    anonymous = {"HOME": str(tmp_path)}
    layout = make_layout(tmp_path / "layout", {"amd64": [{"f": b"anon"}]})
    with RegistryClient(
        registry.host, auth_files=registry_auth_files(
            docker_config(tmp_path, registry.host, USER, PASSWORD))
    ) as c:
        push_layout(layout.root, parse_reference(f"{registry.host}/auth/anon:v1"), c)
    files = registry_auth_files(anonymous)
    with RegistryClient(registry.host, auth_files=files, retries=0) as client:
        assert client.head_manifest("auth/anon", "v1") == layout.digest
        with pytest.raises(RegistryError, match="upload blob .*HTTP 401.*no credentials"):
            client.upload_blob("auth/anon", compute_digest(b"x"), b"x")
    assert (None, ["repository:auth/anon:pull"]) in server.requests


def test_bearer_wrong_password(token_setup, tmp_path: Path):
    registry, server = token_setup
    env = docker_config(tmp_path, registry.host, USER, "wrong")
    with RegistryClient(registry.host, auth_files=registry_auth_files(env), retries=0) as client:
        with pytest.raises(RegistryError) as info:
            client.head_manifest("auth/bearer", "v1")
    message = info.value.diagnostics()
    assert message.startswith(f"{registry.host}/auth/bearer: check manifest v1: ")
    assert message.endswith(
        f"token server {server.realm} refused user '{USER}' for repository:auth/bearer:pull "
        "(HTTP 401)"
    )


def test_token_server_hiccup_is_retried(token_setup, tmp_path: Path):
    registry, server = token_setup
    env = docker_config(tmp_path, registry.host, USER, PASSWORD)
    server.requests.clear()
    server.fail_next = 1
    files = registry_auth_files(env)
    with RegistryClient(registry.host, auth_files=files, sleep=lambda s: None) as client:
        assert client.head_manifest("auth/hiccup", "v1") is None
    assert len(server.requests) == 2


def test_token_server_down_for_good(token_setup, tmp_path: Path):
    registry, server = token_setup
    server.fail_next = 10
    try:
        with RegistryClient(registry.host, auth_files=(), retries=1,
                            sleep=lambda s: None) as client:  # fmt: skip
            with pytest.raises(RegistryError) as info:
                client.head_manifest("auth/down", "v1")
    finally:
        server.fail_next = 0
    assert info.value.diagnostics() == (
        f"{registry.host}/auth/down: check manifest v1: token server {server.realm}: HTTP 503 "
        "(gave up after 2 attempts)"
    )


def test_refused_cached_token_is_replaced(token_setup, tmp_path: Path):
    registry, server = token_setup
    env = docker_config(tmp_path, registry.host, USER, PASSWORD)
    with RegistryClient(registry.host, auth_files=registry_auth_files(env)) as client:
        assert client.head_manifest("auth/stale", "v1") is None  # learns the bearer scheme
        server.requests.clear()
        # Stand in for a token that expired since it was cached.
        client._auth._tokens["repository:auth/stale:pull"] = "expired.token.value"
        assert client.head_manifest("auth/stale", "v1") is None
    assert len(server.requests) == 1


def test_streamed_download_with_auth(basic_registry: Registry, tmp_path: Path):
    env = docker_config(tmp_path, basic_registry.host, USER, PASSWORD)
    data = b"layer bytes " * 10_000
    digest = compute_digest(data)
    with RegistryClient(basic_registry.host, auth_files=registry_auth_files(env)) as client:
        client.upload_blob("auth/stream", digest, data)
        got = client.download_blob("auth/stream", digest, tmp_path / "ok", len(data))
        assert got.read_bytes() == data
    with RegistryClient(basic_registry.host, auth_files=(), retries=0) as client:
        with pytest.raises(RegistryError, match="get blob .*HTTP 401 .*; no credentials"):
            client.download_blob("auth/stream", digest, tmp_path / "denied", len(data))
    assert not (tmp_path / "denied").exists()
