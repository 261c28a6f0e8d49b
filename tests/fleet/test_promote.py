"""Staging tags, promotion and rollback against Debian's docker-registry on 127.0.0.1, checked
with skopeo; request counts and faults come from the loopback proxy in front of it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.faultproxy import ANSWER_500, FaultProxy
from support.ocilayout import Layout, make_layout
from support.registry import Registry
from zerocve.errors import RegistryError
from zerocve.fleet.promote import (
    drop_staging,
    immutable_tag,
    move_tags,
    promote,
    push_staged,
    staging_reference,
)
from zerocve.oci.reference import Reference, parse_reference
from zerocve.oci.registry import RegistryClient

pytestmark = pytest.mark.slow


def tag_digest(host: str, repo: str, tag: str) -> str | None:
    """The digest a tag points at according to skopeo, or None if the tag does not exist."""
    for _ in range(5):
        result = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "REGISTRY_AUTH_FILE": "/nonexistent/auth.json"},
        )
        # docker-registry's filesystem storage rewrites a tag's link file in place, so a read
        # racing a tag move (a test polling a running fleet) can find it empty and answer 500
        # (distribution/distribution#4489): ask again.
        if "500 Internal Server Error" not in result.stderr:
            break
        time.sleep(0.2)
    if result.returncode != 0:
        assert "manifest unknown" in result.stderr or "not found" in result.stderr, result.stderr
        return None
    return "sha256:" + hashlib.sha256(result.stdout.encode()).hexdigest()


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator:
    clients: list[RegistryClient] = []

    def make(host: str) -> RegistryClient:
        client = RegistryClient(host, retries=1, auth_files=(), sleep=lambda s: None)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def image(root: Path, marker: str) -> Layout:
    return make_layout(root, {"amd64": [{"etc/build": marker.encode()}, {"app/x": b"x" * 500}]})


def test_stage_promote_and_roll_back(registry: Registry, tmp_path: Path, client_for):
    host, repo = registry.host, "fleet/app"
    target = Reference(host, repo)
    first, second = image(tmp_path / "one", "one"), image(tmp_path / "two", "two")
    client = client_for(host)

    staged = push_staged(first.root, target, client).reference
    assert staged == staging_reference(target, first.digest)
    assert (staged.repository, staged.tag) == (f"{repo}-staging", f"stage-{first.digest[7:23]}")
    assert tag_digest(host, staged.repository, staged.tag) == first.digest
    assert tag_digest(host, repo, "latest") is None  # pushed by digest: nothing moved yet

    moves = promote(client, repo, first.digest, ["latest", "1"])
    assert [(m.tag, m.before, m.moved) for m in moves] == [
        (immutable_tag(first.digest), None, True), ("latest", None, True), ("1", None, True)
    ]
    assert drop_staging(client, staged) is True
    assert tag_digest(host, staged.repository, staged.tag) is None
    for tag in ("latest", "1", immutable_tag(first.digest)):  # the drop left them alone
        assert tag_digest(host, repo, tag) == first.digest
    assert drop_staging(client, staged) is False  # idempotent

    push_staged(second.root, target, client)
    with FaultProxy(host) as proxy:
        moves = promote(client_for(proxy.host), repo, second.digest, ["latest", "1"])
    assert [(m.tag, m.before) for m in moves] == [
        (immutable_tag(second.digest), None), ("latest", first.digest), ("1", first.digest)
    ]
    # One GET of the pushed manifest, one PUT per tag: no blob moves, nothing re-uploaded.
    assert len(proxy.requests("GET", "manifest")) == 1
    assert len(proxy.requests("PUT", "manifest")) == 3
    assert proxy.requests("PUT", "upload") == [] and proxy.requests("POST", "upload") == []
    assert tag_digest(host, repo, immutable_tag(first.digest)) == first.digest

    with FaultProxy(host) as proxy:  # promoting again (say, after a crash) moves nothing
        again = promote(client_for(proxy.host), repo, second.digest, ["latest", "1"])
    assert not any(m.moved for m in again)
    assert proxy.requests("PUT", "manifest") == []

    back = move_tags(client, repo, first.digest, ["latest", "1"])
    assert [(m.before, m.after) for m in back] == [(second.digest, first.digest)] * 2
    assert tag_digest(host, repo, "latest") == first.digest
    assert tag_digest(host, repo, immutable_tag(second.digest)) == second.digest


def test_a_registry_failing_mid_promotion_leaves_the_floating_tags_where_they_were(
    registry: Registry, tmp_path: Path, client_for
):
    host, repo = registry.host, "fleet/failing"
    old, new = image(tmp_path / "old", "old"), image(tmp_path / "new", "new")
    client = client_for(host)
    first = push_staged(old.root, Reference(host, repo), client)
    assert first.bytes_pushed == sum(old.blobs.values()) - old.blobs[old.digest]
    promote(client, repo, old.digest, ["latest", "1"])
    assert push_staged(old.root, Reference(host, repo), client).bytes_pushed == 0
    push_staged(new.root, Reference(host, repo), client)

    def fail_second_tag(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if method == "PUT" and path.endswith("/manifests/1") else None

    with FaultProxy(host, fail_second_tag) as proxy:
        with pytest.raises(RegistryError, match=r"fleet/failing: put manifest 1: HTTP 500"):
            promote(client_for(proxy.host), repo, new.digest, ["latest", "1"])
    # "latest" had moved before "1" failed: it was put back.
    assert tag_digest(host, repo, "latest") == old.digest
    assert tag_digest(host, repo, "1") == old.digest
    # The next attempt completes; the immutable tag written before the failure is not re-PUT.
    with FaultProxy(host) as proxy:
        moves = promote(client_for(proxy.host), repo, new.digest, ["latest", "1"])
    assert [m.moved for m in moves] == [False, True, True]
    assert len(proxy.requests("PUT", "manifest")) == 2
    assert tag_digest(host, repo, "latest") == tag_digest(host, repo, "1") == new.digest


def test_rolling_back_to_a_digest_the_registry_lacks_is_one_line(
    registry: Registry, client_for
):
    missing = "sha256:" + "1" * 64
    with pytest.raises(RegistryError, match=r"fleet/app: get manifest sha256:1111.*HTTP 404"):
        move_tags(client_for(registry.host), "fleet/app", missing, ["latest"])


def test_references_are_well_formed():
    digest = "sha256:" + "ab" * 32
    staged = staging_reference(parse_reference("r.example/team/py:3.11"), digest)
    assert str(staged) == f"r.example/team/py-staging:stage-{'ab' * 8}@{digest}"
    assert parse_reference(str(staged)) == staged
    assert immutable_tag(digest) == f"build-{'ab' * 8}"
