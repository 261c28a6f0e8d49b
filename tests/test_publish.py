"""push_layout against Debian's docker-registry on 127.0.0.1, checked with skopeo; faults come
from a loopback proxy in front of the real registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.faultproxy import ANSWER_500, DROP, FaultProxy, kind
from support.ocilayout import Layout, make_layout
from support.registry import Registry
from zerocve.errors import ImageError, RegistryError, UsageError
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.progress import Reporter
from zerocve.publish import push_layout

pytestmark = pytest.mark.slow


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, env=_skopeo_env()
    )


def _skopeo_env() -> dict[str, str]:
    # Keep skopeo away from the user's auth files and registries.conf mirrors.
    return {**os.environ, "REGISTRY_AUTH_FILE": "/nonexistent/auth.json"}


def tag_digest(host: str, repo: str, tag: str) -> str | None:
    """The digest a tag points at according to skopeo, or None if the tag does not exist."""
    result = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}:{tag}")
    if result.returncode != 0:
        assert "manifest unknown" in result.stderr or "not found" in result.stderr, result.stderr
        return None
    return "sha256:" + hashlib.sha256(result.stdout.encode()).hexdigest()


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator:
    """``client_for(host)``: a client with no auth files and instant backoff."""
    clients: list[RegistryClient] = []

    def make(host: str, retries: int = 3) -> RegistryClient:
        client = RegistryClient(
            host, retries=retries, auth_files=(), sleep=lambda s: None
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def small_image(root: Path, marker: str = "one") -> Layout:
    return make_layout(
        root,
        {"amd64": [{"etc/hello": f"hello {marker}\n".encode()}, {"app/data": b"x" * 300}]},
    )


def two_platform_image(root: Path) -> Layout:
    shared = {"usr/share/doc/readme": b"same on every platform\n"}
    return make_layout(
        root,
        {
            "amd64": [shared, {"usr/bin/app": b"\x7fELF amd64 build"}],
            "arm64": [shared, {"usr/bin/app": b"\x7fELF arm64 build"}],
        },
    )


def test_push_single_image_roundtrips_through_skopeo(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout")
    ref = parse_reference(f"{registry.host}/pub/single:v1")
    digest = push_layout(layout.root, ref, client_for(registry.host)).digest
    assert digest == layout.digest
    assert tag_digest(registry.host, "pub/single", "v1") == digest

    inspected = skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/pub/single:v1")
    assert inspected.returncode == 0, inspected.stderr
    info = json.loads(inspected.stdout)
    assert info["Architecture"] == "amd64"
    assert len(info["Layers"]) == 2

    copied = tmp_path / "copied"
    result = skopeo(
        "copy", "--src-tls-verify=false", "--preserve-digests",
        f"docker://{registry.host}/pub/single:v1", f"oci:{copied}:v1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    index = json.loads((copied / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    for blob in layout.blobs:
        original = (layout.root / "blobs/sha256" / blob[7:]).read_bytes()
        assert (copied / "blobs/sha256" / blob[7:]).read_bytes() == original


def test_push_two_platform_index(registry: Registry, tmp_path, client_for):
    layout = two_platform_image(tmp_path / "layout")
    with FaultProxy(registry.host) as proxy:
        digest = push_layout(
            layout.root, parse_reference(f"{proxy.host}/pub/multi:v1"), client_for(proxy.host)
        ).digest
    assert digest == layout.digest
    assert tag_digest(registry.host, "pub/multi", "v1") == digest
    # The shared layer went up once; platform manifests by digest, then the index, then the tag.
    uploads = proxy.requests("PUT", "upload")
    assert len(uploads) == len(layout.blobs) - 3  # every blob but the two manifests and index
    manifest_puts = [path.rsplit("/", 1)[1] for _, path, _ in proxy.requests("PUT", "manifest")]
    assert manifest_puts == [*layout.manifests, layout.digest, "v1"]

    copied = tmp_path / "copied"
    result = skopeo(
        "copy", "--all", "--src-tls-verify=false", "--preserve-digests",
        f"docker://{registry.host}/pub/multi:v1", f"oci:{copied}:v1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((copied / "index.json").read_text())["manifests"][0]["digest"] == digest
    for arch in ("amd64", "arm64"):
        result = skopeo(
            "inspect", "--tls-verify=false", f"--override-arch={arch}",
            f"docker://{registry.host}/pub/multi:v1",
        )  # fmt: skip
        assert json.loads(result.stdout)["Architecture"] == arch


def test_second_push_uploads_nothing(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout")
    ref = parse_reference(f"{registry.host}/pub/again:v1")
    first = push_layout(layout.root, ref, client_for(registry.host))
    blobs = len(layout.blobs) - 1  # all but the manifest
    assert (first.blobs_pushed, first.blobs_skipped) == (blobs, 0)
    assert first.bytes_pushed == sum(
        size for digest, size in layout.blobs.items() if digest != layout.digest
    )
    with FaultProxy(registry.host) as proxy:
        again = parse_reference(f"{proxy.host}/pub/again:v2")
        second = push_layout(layout.root, again, client_for(proxy.host))
    assert second.digest == layout.digest
    assert (second.blobs_pushed, second.blobs_skipped, second.bytes_pushed) == (0, blobs, 0)
    assert len(proxy.requests("HEAD", "blob")) == blobs
    assert proxy.requests("POST", "upload") == []
    assert tag_digest(registry.host, "pub/again", "v2") == layout.digest


def test_cross_repository_mount(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="mount")
    push_layout(
        layout.root, parse_reference(f"{registry.host}/pub/source:v1"), client_for(registry.host)
    )
    with FaultProxy(registry.host) as proxy:
        ref = parse_reference(f"{proxy.host}/pub/target:v1")
        push_layout(layout.root, ref, client_for(proxy.host), from_repo="pub/source")
    mounts = proxy.requests("POST", "upload")
    assert len(mounts) == len(layout.blobs) - 1
    assert all("mount=sha256" in path and "from=pub%2Fsource" in path for _, path, _ in mounts)
    assert proxy.requests("PUT", "upload") == [] and proxy.requests("PATCH", "upload") == []
    assert tag_digest(registry.host, "pub/target", "v1") == layout.digest


def test_large_blobs_go_up_in_chunks(registry: Registry, tmp_path, client_for):
    big = os.urandom(300_000)  # incompressible: the gzip'd layer stays above the threshold
    layout = make_layout(tmp_path / "layout", {"amd64": [{"big.bin": big}]})
    layer_size = max(layout.blobs.values())
    with FaultProxy(registry.host) as proxy:
        ref = parse_reference(f"{proxy.host}/pub/chunked:v1")
        push_layout(
            layout.root, ref, client_for(proxy.host), chunk_threshold=100_000, chunk_size=64_000
        )
    assert len(proxy.requests("PATCH", "upload")) == -(-layer_size // 64_000)
    assert tag_digest(registry.host, "pub/chunked", "v1") == layout.digest


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_reporter_hears_about_skips(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="notes")
    ref = parse_reference(f"{registry.host}/pub/notes:v1")
    push_layout(layout.root, ref, client_for(registry.host))
    reporter = Notes()
    push_layout(layout.root, ref, client_for(registry.host), reporter=reporter)
    assert len(reporter.notes) == len(layout.blobs) - 1
    assert all("already in pub/notes" in n for n in reporter.notes)


# ---- faults ---------------------------------------------------------------------------------


def test_500_on_second_blob_put_is_retried(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="retry")

    def second_blob_put_fails_once(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if (method, kind(path), seen) == ("PUT", "upload", 1) else None

    with FaultProxy(registry.host, second_blob_put_fails_once) as proxy:
        ref = parse_reference(f"{proxy.host}/pub/retry:v1")
        assert push_layout(layout.root, ref, client_for(proxy.host)).digest == layout.digest
    assert [action for _, _, action in proxy.requests("PUT", "upload")].count(ANSWER_500) == 1
    assert tag_digest(registry.host, "pub/retry", "v1") == layout.digest


def test_registry_failing_for_good_never_moves_the_tag(registry: Registry, tmp_path, client_for):
    first = small_image(tmp_path / "first", marker="first")
    push_layout(
        first.root, parse_reference(f"{registry.host}/pub/fail:v1"), client_for(registry.host)
    )
    second = small_image(tmp_path / "second", marker="second")

    def blob_puts_fail_after_first(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if method == "PUT" and kind(path) == "upload" and seen >= 1 else None

    with FaultProxy(registry.host, blob_puts_fail_after_first) as proxy:
        with pytest.raises(RegistryError) as info:
            push_layout(
                second.root,
                parse_reference(f"{proxy.host}/pub/fail:v1"),
                client_for(proxy.host, retries=2),
            )
        with pytest.raises(RegistryError):  # a tag that never existed stays absent
            push_layout(
                second.root,
                parse_reference(f"{proxy.host}/pub/fail:new"),
                client_for(proxy.host, retries=2),
            )
    message = info.value.diagnostics()
    assert message.startswith(f"{proxy.host}/pub/fail: upload blob sha256:")
    assert "HTTP 500" in message and "injected fault" in message and "3 attempts" in message
    assert proxy.requests("PUT", "manifest") == []
    assert tag_digest(registry.host, "pub/fail", "v1") == first.digest
    assert tag_digest(registry.host, "pub/fail", "new") is None


def test_tag_put_failing_leaves_complete_image_by_digest_only(
    registry: Registry, tmp_path, client_for
):
    layout = small_image(tmp_path / "layout", marker="tagfail")

    def tag_put_fails(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if method == "PUT" and path.endswith("/manifests/v1") else None

    with FaultProxy(registry.host, tag_put_fails) as proxy:
        with pytest.raises(RegistryError, match="put manifest v1: HTTP 500"):
            push_layout(
                layout.root,
                parse_reference(f"{proxy.host}/pub/tagfail:v1"),
                client_for(proxy.host, retries=1),
            )
    assert tag_digest(registry.host, "pub/tagfail", "v1") is None
    by_digest = skopeo(
        "inspect", "--no-tags", "--tls-verify=false",
        f"docker://{registry.host}/pub/tagfail@{layout.digest}",
    )  # fmt: skip
    assert by_digest.returncode == 0, by_digest.stderr


def test_connection_dropped_mid_upload(registry: Registry, tmp_path, client_for):
    layout = make_layout(tmp_path / "layout", {"amd64": [{"big.bin": os.urandom(200_000)}]})

    def drop_first_patch_and_first_put(method: str, path: str, seen: int) -> str | None:
        return DROP if method in ("PATCH", "PUT") and kind(path) == "upload" and seen == 0 else None

    with FaultProxy(registry.host, drop_first_patch_and_first_put) as proxy:
        ref = parse_reference(f"{proxy.host}/pub/dropped:v1")
        push_layout(
            layout.root, ref, client_for(proxy.host), chunk_threshold=100_000, chunk_size=80_000
        )
    actions = [action for _, _, action in proxy.log]
    assert actions.count(DROP) == 2
    assert tag_digest(registry.host, "pub/dropped", "v1") == layout.digest


# ---- bad input ------------------------------------------------------------------------------


def test_not_a_layout(tmp_path, client_for):
    with pytest.raises(UsageError, match="not an OCI image layout"):
        push_layout(tmp_path, parse_reference("127.0.0.1:9/x:y"), client_for("127.0.0.1:9"))


def test_corrupt_blob_is_refused_before_any_push(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="corrupt")
    manifest = layout.root / "blobs/sha256" / layout.digest[7:]
    manifest.write_bytes(manifest.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))
    with pytest.raises(ImageError, match=r"blobs/sha256/[0-9a-f]{64} does not match its digest"):
        push_layout(
            layout.root,
            parse_reference(f"{registry.host}/pub/corrupt:v1"),
            client_for(registry.host),
        )
    assert tag_digest(registry.host, "pub/corrupt", "v1") is None


def test_missing_blob_is_named(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="missing")
    victim = next(d for d in layout.blobs if d != layout.digest)
    (layout.root / "blobs/sha256" / victim[7:]).unlink()
    with pytest.raises(Exception, match=f"blob {victim} is missing"):
        push_layout(
            layout.root,
            parse_reference(f"{registry.host}/pub/missing:v1"),
            client_for(registry.host),
        )


def test_reference_digest_must_match(registry: Registry, tmp_path, client_for):
    layout = small_image(tmp_path / "layout", marker="pinned")
    wrong = "sha256:" + "0" * 64
    with pytest.raises(UsageError, match="not sha256:0000"):
        push_layout(
            layout.root,
            parse_reference(f"{registry.host}/pub/pinned@{wrong}"),
            client_for(registry.host),
        )
    by_digest = parse_reference(f"{registry.host}/pub/pinned@{layout.digest}")
    assert push_layout(layout.root, by_digest, client_for(registry.host)).digest == layout.digest


def test_failing_platform_manifest_leaves_no_index_and_no_tag(
    registry: Registry, tmp_path, client_for
):
    layout = two_platform_image(tmp_path / "layout")
    second = layout.manifests[1]

    def second_manifest_fails(method: str, path: str, seen: int) -> str | None:
        return ANSWER_500 if method == "PUT" and path.endswith(second) else None

    with FaultProxy(registry.host, second_manifest_fails) as proxy:
        with pytest.raises(RegistryError, match=f"put manifest {second[:19]}: HTTP 500"):
            ref = parse_reference(f"{proxy.host}/pub/halfindex:v1")
            push_layout(layout.root, ref, client_for(proxy.host, retries=1))
    targets = [path.rsplit("/", 1)[1] for _, path, _ in proxy.requests("PUT", "manifest")]
    assert targets == [layout.manifests[0], second, second]
    assert tag_digest(registry.host, "pub/halfindex", "v1") is None
