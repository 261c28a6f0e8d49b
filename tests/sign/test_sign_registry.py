"""Signatures in a real registry (Debian's docker-registry), checked by skopeo under a
``sigstoreSigned`` policy and, independently of any container tool, by openssl.

Debian builds skopeo without sigstore verification: its policy check still fetches the
``.sig`` attachment and refuses an unsigned image, then stops at "Debian-local change:
sigstore disabled" for a signed one. On Debian these tests therefore prove that skopeo finds
zerocve's signature where it looks, and the openssl checks prove what it would find there.
With ZEROCVE_TEST_SKOPEO naming a skopeo built with sigstore verification (upstream's own
build), every policy assertion is exact: a signed image is accepted, and each refusal is the
policy's, never "sigstore disabled"."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from support.faultproxy import ANSWER_500, FaultProxy
from support.ocilayout import make_layout
from support.registry import Registry
from support.signing import KeyPair, blob, manifest, tag_of, tags, zerocve

pytestmark = pytest.mark.slow

SIGSTORE_DISABLED = "Debian-local change: sigstore disabled"
NO_SIGNATURE = "A signature was required, but no signature exists"
# A skopeo that verifies sigstore signatures makes the policy checks exact (see above).
SKOPEO = os.environ.get("ZEROCVE_TEST_SKOPEO", "skopeo")
EXACT = "ZEROCVE_TEST_SKOPEO" in os.environ


def push(registry: Registry, tmp_path: Path, repo: str, platforms: dict, tag: str = "v1") -> str:
    layout = make_layout(tmp_path / repo.replace("/", "-"), platforms)
    result = zerocve("publish", "--no-scan", "--layout", str(layout.root),
                     f"{registry.host}/{repo}:{tag}", home=tmp_path)
    assert result.returncode == 0, result.stderr
    return layout.digest


def sign(registry: Registry, key: Path, reference: str, home: Path):
    return zerocve("sign", f"{registry.host}/{reference}", "--key", str(key), "--no-attest",
                   home=home)


def skopeo_policy(registry: Registry, public: Path, reference: str, tmp_path: Path):
    """``skopeo copy`` under a policy that requires a sigstore signature by ``public``."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {registry.host: [{
            "type": "sigstoreSigned", "keyPath": str(public),
            "signedIdentity": {"type": "matchRepository"},
        }]}},
    }))
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir(exist_ok=True)
    (registries_d / "local.yaml").write_text(
        f"docker:\n  {registry.host}:\n    use-sigstore-attachments: true\n")
    return subprocess.run(
        [SKOPEO, "copy", "--all", "--src-tls-verify=false", "--policy", str(policy),
         "--registries.d", str(registries_d), "--remove-signatures",
         f"docker://{registry.host}/{reference}", f"oci:{tmp_path / 'copy'}:x"],
        capture_output=True, text=True, timeout=120,
    )


def assert_accepted(result: subprocess.CompletedProcess[str]) -> None:
    if EXACT:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 0 or SIGSTORE_DISABLED in result.stderr, result.stderr


def assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0, "skopeo accepted an image the policy must refuse"
    if EXACT:
        assert SIGSTORE_DISABLED not in result.stderr, result.stderr


def openssl_verifies(registry: Registry, repo: str, digest: str, public: Path,
                     tmp_path: Path) -> list[tuple[bool, dict]]:
    """Each signature layer attached to ``digest``: (openssl verifies it with ``public``,
    the signed payload)."""
    found = manifest(registry.host, repo, tag_of(digest, ".sig"))
    assert found is not None, f"no {tag_of(digest, '.sig')} tag"
    results = []
    for i, layer in enumerate(found[0]["layers"]):
        assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
        payload = tmp_path / f"payload-{i}"
        payload.write_bytes(blob(registry.host, repo, layer["digest"]))
        signature = tmp_path / f"sig-{i}"
        signature.write_bytes(base64.b64decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]))
        done = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(public),
                               "-signature", str(signature), str(payload)],
                              capture_output=True, text=True)
        results.append((done.stdout.strip() == "Verified OK", json.loads(payload.read_bytes())))
    return results


def test_signed_image_is_accepted_and_others_refused(
    registry: Registry, keys: KeyPair, other_keys: KeyPair, tmp_path: Path
):
    signed = push(registry, tmp_path, "sig/app", {"amd64": [{"etc/motd": b"signed\n"}]})
    push(registry, tmp_path, "sig/unsigned", {"amd64": [{"etc/motd": b"plain\n"}]})
    result = sign(registry, keys.private, "sig/app:v1", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{registry.host}/sig/app@{signed[:19]}: signature: added"

    ((valid, payload),) = openssl_verifies(registry, "sig/app", signed, keys.public, tmp_path)
    assert valid
    assert payload == {"critical": {"identity": {"docker-reference": f"{registry.host}/sig/app"},
                                    "image": {"docker-manifest-digest": signed},
                                    "type": "cosign container image signature"},
                       "optional": None}
    assert_accepted(skopeo_policy(registry, keys.public, "sig/app:v1", tmp_path))

    refused = skopeo_policy(registry, keys.public, "sig/unsigned:v1", tmp_path)
    assert_refused(refused)
    assert NO_SIGNATURE in refused.stderr

    # Signed by another key: openssl says so, and so do skopeo and zerocve verify.
    push(registry, tmp_path, "sig/other", {"amd64": [{"etc/motd": b"other\n"}]})
    assert sign(registry, other_keys.private, "sig/other:v1", tmp_path).returncode == 0
    other_digest = manifest(registry.host, "sig/other", "v1")[1]
    ((valid, _),) = openssl_verifies(registry, "sig/other", other_digest, keys.public, tmp_path)
    assert not valid
    assert_refused(skopeo_policy(registry, keys.public, "sig/other:v1", tmp_path))
    verified = zerocve("verify", f"{registry.host}/sig/other:v1", "--key", str(keys.public),
                       home=tmp_path)
    assert verified.returncode == 1
    assert "not made by this key" in verified.stderr
    assert len(verified.stderr.strip().splitlines()) == 1


def test_tampered_images_are_refused(registry: Registry, keys: KeyPair, tmp_path: Path):
    """A signature moved onto another digest, and a payload rewritten under its signature."""
    original = push(registry, tmp_path, "tamper/app", {"amd64": [{"etc/motd": b"A\n"}]}, "a")
    assert sign(registry, keys.private, "tamper/app:a", tmp_path).returncode == 0
    forged = push(registry, tmp_path, "tamper/app", {"amd64": [{"etc/motd": b"B\n"}]}, "b")
    sig_manifest = httpx.get(
        f"{registry.url}/v2/tamper/app/manifests/{tag_of(original, '.sig')}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).content
    httpx.put(f"{registry.url}/v2/tamper/app/manifests/{tag_of(forged, '.sig')}",
              content=sig_manifest,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
              ).raise_for_status()

    ((valid, payload),) = openssl_verifies(registry, "tamper/app", forged, keys.public, tmp_path)
    assert valid and payload["critical"]["image"]["docker-manifest-digest"] == original
    assert_refused(skopeo_policy(registry, keys.public, "tamper/app:b", tmp_path))
    moved = zerocve("verify", f"{registry.host}/tamper/app:b", "--key", str(keys.public),
                    home=tmp_path)
    assert moved.returncode == 1
    assert f"signs {original}, not this digest" in moved.stderr

    # The payload of b's signature rewritten to name b: the signature no longer matches.
    document = json.loads(sig_manifest)
    text = blob(registry.host, "tamper/app", document["layers"][0]["digest"])
    rewritten = text.replace(original.encode(), forged.encode())
    digest = "sha256:" + hashlib.sha256(rewritten).hexdigest()
    started = httpx.post(f"{registry.url}/v2/tamper/app/blobs/uploads/")
    httpx.put(httpx.URL(registry.url).join(started.headers["Location"]).copy_merge_params(
        {"digest": digest}), content=rewritten).raise_for_status()
    document["layers"][0].update(digest=digest, size=len(rewritten))
    httpx.put(f"{registry.url}/v2/tamper/app/manifests/{tag_of(forged, '.sig')}",
              content=json.dumps(document).encode(),
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
              ).raise_for_status()
    ((valid, _),) = openssl_verifies(registry, "tamper/app", forged, keys.public, tmp_path)
    assert not valid
    assert_refused(skopeo_policy(registry, keys.public, "tamper/app:b", tmp_path))
    altered = zerocve("verify", f"{registry.host}/tamper/app:b", "--key", str(keys.public),
                      home=tmp_path)
    assert altered.returncode == 1
    assert "not made by this key (or payload altered)" in altered.stderr


def test_index_and_each_platform_are_signed_once(
    registry: Registry, keys: KeyPair, tmp_path: Path
):
    index = push(registry, tmp_path, "multi/app", {
        "amd64": [{"etc/motd": b"amd64\n"}], "arm64": [{"etc/motd": b"arm64\n"}]})
    platforms = [m["digest"] for m in manifest(registry.host, "multi/app", "v1")[0]["manifests"]]
    first = sign(registry, keys.private, "multi/app:v1", tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(": signature: added") == 3
    for digest in [index, *platforms]:
        ((valid, payload),) = openssl_verifies(registry, "multi/app", digest, keys.public,
                                               tmp_path)
        assert valid and payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert_accepted(skopeo_policy(registry, keys.public, "multi/app:v1", tmp_path))
    assert_accepted(skopeo_policy(registry, keys.public, f"multi/app@{platforms[1]}", tmp_path))
    verified = zerocve("verify", f"{registry.host}/multi/app:v1", "--key", str(keys.public),
                       "-o", "json", home=tmp_path)
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    assert [(c["digest"], c["platform"], c["ok"]) for c in report["checks"]] == [
        (index, None, True), (platforms[0], "linux/amd64", True),
        (platforms[1], "linux/arm64", True)]

    # Signing again changes nothing: no new layer, no tag moved (cosign's "skip same").
    before = {d: manifest(registry.host, "multi/app", tag_of(d, ".sig"))[1]
              for d in [index, *platforms]}
    listed = tags(registry.host, "multi/app")
    again = sign(registry, keys.private, "multi/app:v1", tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(": signature: already there") == 3
    assert {d: manifest(registry.host, "multi/app", tag_of(d, ".sig"))[1] for d in before} == before
    assert tags(registry.host, "multi/app") == listed


@pytest.mark.parametrize("refused", ["manifest", "blob"])
def test_refused_signature_push_leaves_no_tag(
    registry: Registry, keys: KeyPair, tmp_path: Path, refused: str
):
    digest = push(registry, tmp_path, f"refuse/{refused}", {"amd64": [{"etc/x": refused.encode()}]})
    sig_tag = tag_of(digest, ".sig")

    def rule(method: str, path: str, seen: int) -> str | None:
        if refused == "manifest" and method == "PUT" and path.endswith(f"/manifests/{sig_tag}"):
            return ANSWER_500
        if refused == "blob" and method in ("PUT", "PATCH") and "/blobs/uploads/" in path:
            return ANSWER_500
        return None

    with FaultProxy(registry.host, rule) as proxy:
        result = zerocve("sign", f"{proxy.host}/refuse/{refused}:v1", "--key",
                         str(keys.private), "--no-attest", home=tmp_path)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {proxy.host}/refuse/{refused}: ")
    assert manifest(registry.host, f"refuse/{refused}", sig_tag) is None
    assert tags(registry.host, f"refuse/{refused}") == ["v1"]
