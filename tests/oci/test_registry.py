"""RegistryClient against Debian's docker-registry on 127.0.0.1; faults from a loopback proxy."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from support.faultproxy import ANSWER_429, ANSWER_500, CORRUPT, FaultProxy, kind
from support.registry import Registry, free_port
from zerocve.errors import RegistryError
from zerocve.oci.media_types import OCI_MANIFEST
from zerocve.oci.registry import (
    RegistryClient,
    compute_digest,
    is_loopback,
)
from zerocve.progress import Reporter, Task

CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"


@pytest.fixture
def make_client(tmp_path: Path):
    """``make_client(host, retries=3)``: no auth files, backoff delays recorded not slept."""
    made: list[RegistryClient] = []

    def make(host: str, retries: int = 3, delays: list[float] | None = None) -> RegistryClient:
        client = RegistryClient(
            host,
            retries=retries,
            auth_files=(),
            sleep=(delays.append if delays is not None else lambda s: None),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def blob(n: int = 5000, seed: bytes = b"") -> tuple[bytes, str]:
    data = (seed + os.urandom(16)) * (n // 16)
    return data, compute_digest(data)


def manifest_for(client: RegistryClient, repo: str) -> bytes:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    client.upload_blob(repo, compute_digest(config), config)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": CONFIG_MEDIA,
                "digest": compute_digest(config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("registry.example", False),
        ("registry.example:5000", False),
        ("10.0.0.1:5000", False),
        ("127.0.0.1.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "insecure", "scheme"),
    [("registry.example", None, "https"), ("registry.example", True, "http"),
     ("127.0.0.1:5000", None, "http"), ("127.0.0.1:5000", False, "https")],
)  # fmt: skip
def test_scheme_choice(host: str, insecure: bool | None, scheme: str, tmp_path: Path):
    # No network here: the transport records the URL the client would use.
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(404)

    client = RegistryClient(
        host, transport=httpx.MockTransport(answer), insecure=insecure, auth_files=()
    )
    assert client.blob_exists("app", "sha256:" + "a" * 64) is False
    assert str(seen[0]) == f"{scheme}://{host}/v2/app/blobs/sha256:{'a' * 64}"


# ---- blobs against the real registry --------------------------------------------------------


def test_monolithic_upload_and_get(registry: Registry, make_client):
    client = make_client(registry.host)
    data, digest = blob()
    assert client.blob_exists("cli/mono", digest) is False
    client.upload_blob("cli/mono", digest, data)
    assert client.blob_exists("cli/mono", digest) is True
    assert client.get_blob("cli/mono", digest, len(data)) == data


def test_chunked_upload_from_file(registry: Registry, make_client, tmp_path: Path):
    data, digest = blob(100_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with FaultProxy(registry.host) as proxy:
        client = make_client(proxy.host)
        client.upload_blob("cli/chunked", digest, path, len(data), chunk_size=30_000)
    assert len(proxy.requests("PATCH", "upload")) == 4
    assert len(proxy.requests("PUT", "upload")) == 1
    assert make_client(registry.host).get_blob("cli/chunked", digest, len(data)) == data


def test_empty_blob(registry: Registry, make_client):
    client = make_client(registry.host)
    client.upload_blob("cli/empty", compute_digest(b""), b"", chunk_size=1024)
    assert client.get_blob("cli/empty", compute_digest(b""), 0) == b""


class Bytes(Reporter):
    def __init__(self) -> None:
        self.tasks: list[tuple[str, float | None, list[float]]] = []

    def task(self, description: str, total: float | None = None):  # type: ignore[override]
        from contextlib import contextmanager

        moves: list[float] = []
        self.tasks.append((description, total, moves))

        class Recording(Task):
            def advance(self, amount: float = 1) -> None:
                moves.append(amount)

        @contextmanager
        def cm():
            yield Recording()

        return cm()


def test_upload_progress_counts_bytes(registry: Registry, make_client):
    data, digest = blob(50_000)
    reporter = Bytes()
    make_client(registry.host).upload_blob(
        "cli/progress", digest, data, chunk_size=20_000, reporter=reporter
    )
    ((description, total, moves),) = reporter.tasks
    assert description == f"push {digest[:19]}"
    assert total == len(data) and sum(moves) == len(data)


def test_registry_checks_the_digest(registry: Registry, make_client):
    data, _ = blob()
    wrong = compute_digest(b"something else")
    with pytest.raises(RegistryError) as info:
        make_client(registry.host).upload_blob("cli/wrong", wrong, data)
    message = info.value.diagnostics()
    assert message.startswith(f"{registry.host}/cli/wrong: upload blob {wrong[:19]}: HTTP 400")
    assert "DIGEST_INVALID" in message


def test_size_mismatch_is_refused_before_sending(make_client):
    data, digest = blob()
    client = make_client(f"127.0.0.1:{free_port()}")  # nothing listens: no request may be sent
    with pytest.raises(RegistryError, match=f"is {len(data)} bytes, its descriptor says 1"):
        client.upload_blob("x", digest, data, size=1)


def test_mount_and_fallback(registry: Registry, make_client):
    client = make_client(registry.host)
    data, digest = blob()
    client.upload_blob("cli/mount-src", digest, data)
    assert client.mount_blob("cli/mount-dst", digest, "cli/mount-src") is True
    assert client.blob_exists("cli/mount-dst", digest)
    other, other_digest = blob(seed=b"other")
    assert client.mount_blob("cli/mount-dst", other_digest, "cli/mount-src") is False
    assert not client.blob_exists("cli/mount-dst", other_digest)


def test_download_blob_is_atomic_and_verified(registry: Registry, make_client, tmp_path: Path):
    data, digest = blob(200_000)
    make_client(registry.host).upload_blob("cli/dl", digest, data)
    dest = tmp_path / "out" / "layer"
    make_client(registry.host).download_blob("cli/dl", digest, dest, len(data))
    assert dest.read_bytes() == data

    bad = tmp_path / "bad" / "layer"
    with FaultProxy(registry.host, lambda m, p, seen: CORRUPT if m == "GET" else None) as proxy:
        with pytest.raises(RegistryError, match="content has digest sha256:.*expected"):
            make_client(proxy.host, retries=0).download_blob("cli/dl", digest, bad, len(data))
        with pytest.raises(RegistryError, match="content has digest"):
            make_client(proxy.host, retries=0).get_blob("cli/dl", digest, len(data))
    assert list(bad.parent.iterdir()) == []


# ---- manifests ------------------------------------------------------------------------------


def test_manifest_put_get_head(registry: Registry, make_client):
    client = make_client(registry.host)
    body = manifest_for(client, "cli/manifest")
    digest = client.put_manifest("cli/manifest", "v1", body, OCI_MANIFEST)
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert client.head_manifest("cli/manifest", "v1") == digest
    assert client.get_manifest("cli/manifest", "v1") == (body, OCI_MANIFEST, digest)
    assert client.get_manifest("cli/manifest", digest).body == body
    assert client.head_manifest("cli/manifest", "never-written") is None
    with pytest.raises(RegistryError, match="get manifest nope: HTTP 404 .*MANIFEST_UNKNOWN"):
        client.get_manifest("cli/manifest", "nope")


def test_manifest_body_must_match_digest_reference(make_client):
    client = make_client(f"127.0.0.1:{free_port()}")
    with pytest.raises(RegistryError, match="has digest sha256:.*not sha256:0000"):
        client.put_manifest("x", "sha256:" + "0" * 64, b"{}", OCI_MANIFEST)


def test_corrupt_manifest_is_refused(registry: Registry, make_client):
    client = make_client(registry.host)
    body = manifest_for(client, "cli/corrupt")
    digest = client.put_manifest("cli/corrupt", "v1", body, OCI_MANIFEST)
    rule = lambda m, p, seen: CORRUPT if m == "GET" and kind(p) == "manifest" else None  # noqa: E731
    with FaultProxy(registry.host, rule) as proxy:
        with pytest.raises(RegistryError, match="does not match Docker-Content-Digest"):
            make_client(proxy.host).get_manifest("cli/corrupt", "v1")
        with pytest.raises(RegistryError, match=f"expected {digest}"):
            make_client(proxy.host).get_manifest("cli/corrupt", digest)


# ---- retries --------------------------------------------------------------------------------


def test_transient_500s_are_retried_with_backoff(registry: Registry, make_client):
    data, digest = blob()
    make_client(registry.host).upload_blob("cli/retry", digest, data)
    rule = lambda m, p, seen: ANSWER_500 if m == "HEAD" and seen < 2 else None  # noqa: E731
    delays: list[float] = []
    with FaultProxy(registry.host, rule) as proxy:
        assert make_client(proxy.host, delays=delays).blob_exists("cli/retry", digest)
    assert len(proxy.requests("HEAD", "blob")) == 3
    assert delays == [0.5, 1.0]


def test_gives_up_with_one_line(registry: Registry, make_client):
    rule = lambda m, p, seen: ANSWER_500  # noqa: E731
    with FaultProxy(registry.host, rule) as proxy:
        with pytest.raises(RegistryError) as info:
            make_client(proxy.host, retries=2).get_manifest("cli/down", "v1")
    assert info.value.diagnostics() == (
        f"{proxy.host}/cli/down: get manifest v1: HTTP 500 (UNKNOWN: injected fault) "
        "(gave up after 3 attempts)"
    )
    assert len(proxy.log) == 3


def test_connection_refused(make_client):
    host = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError, match=rf"{host}/x: check blob .*ConnectError.*2 attempts"):
        make_client(host, retries=1).blob_exists("x", "sha256:" + "a" * 64)


def test_failed_attempt_rewinds_progress(registry: Registry, make_client):
    data, digest = blob(60_000)
    reporter = Bytes()
    rule = lambda m, p, seen: ANSWER_500 if m == "PUT" and seen == 0 else None  # noqa: E731
    with FaultProxy(registry.host, rule) as proxy:
        make_client(proxy.host).upload_blob(
            "cli/rewind", digest, data, chunk_size=25_000, reporter=reporter
        )
    ((_, total, moves),) = reporter.tasks
    assert any(m < 0 for m in moves)
    assert sum(moves) == total == len(data)
    assert len(proxy.requests("POST", "upload")) == 2
    assert make_client(registry.host).get_blob("cli/rewind", digest, len(data)) == data


def test_429_waits_as_long_as_asked(registry: Registry, make_client):
    rule = lambda m, p, seen: ANSWER_429 if seen == 0 else None  # noqa: E731
    delays: list[float] = []
    with FaultProxy(registry.host, rule) as proxy:
        assert make_client(proxy.host, delays=delays).head_manifest("cli/busy", "v1") is None
    assert delays == [2.0]
