"""Attestations of a real image (built from the loopback repository's .debs, published with
``--sign``), checked by independent implementations: securesystemslib verifies the DSSE
envelopes, in-toto-attestation parses the statements and the SLSA predicate, and every
predicate validates against its JSON schema in tests/schemas."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as InTotoStatement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from support.aptrepo import AptRepo
from support.data import advisory
from support.ocilayout import make_layout
from support.registry import Registry
from support.schemas import validate
from support.signing import KeyPair, blob, manifest, tag_of, tags, zerocve

pytestmark = pytest.mark.slow

SCHEMAS = {
    "https://spdx.dev/Document": "spdx-schema-2.3.json",
    "https://cyclonedx.org/bom": "bom-1.6.schema.json",
    "https://slsa.dev/provenance/v1": "slsa-provenance-v1.schema.json",
    "https://openvex.dev/ns": "openvex_json_schema-0.2.0.json",
}


@dataclass(frozen=True)
class Published:
    reference: str  # HOST/REPO:TAG
    repo: str
    digest: str
    spec: Path
    lock: Path
    home: Path
    env: dict[str, str]
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def published(apt_repo: AptRepo, registry: Registry, keys: KeyPair,
              tmp_path_factory: pytest.TempPathFactory) -> Published:
    home = tmp_path_factory.mktemp("publisher")
    env = {"ZEROCVE_CACHE_DIR": str(home / "cache")}
    # One open finding (a fix no repository carries), so the triage has something to say.
    feed = home / "osv"
    feed.mkdir()
    (feed / "CVE-2099-0001.json").write_text(json.dumps(advisory("tzdata", "9999z-1")))
    updated = zerocve("db", "update", "--osv", str(feed), home=home, env=env)
    assert updated.returncode == 0, updated.stderr
    spec = home / "signed.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": list(apt_repo.suites),
                          "components": ["main"], "keyring": str(apt_repo.keyring)}],
        "packages": ["netbase", "tzdata"]}}))
    locked = zerocve("lock", str(spec), home=home, env=env)
    assert locked.returncode == 0, locked.stderr
    reference = f"{registry.host}/attest/app:v1"
    result = zerocve("publish", str(spec), reference, "--sign", str(keys.private),
                     home=home, env=env)
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip().partition("@")[2]
    return Published(reference, "attest/app", digest, spec, home / "signed.lock.json", home,
                     env, result.stdout, result.stderr)


def signing_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if line.endswith((": added", ": already there"))]


def envelopes(host: str, repo: str, digest: str) -> list[tuple[dict, bytes]]:
    found = manifest(host, repo, tag_of(digest, ".att"))
    assert found is not None, "no attestations attached"
    return [(layer, blob(host, repo, layer["digest"])) for layer in found[0]["layers"]]


def test_publish_signs_and_attests(published: Published, registry: Registry):
    assert published.stdout == f"{published.reference}@{published.digest}\n"
    lines = signing_lines(published.stderr)
    assert sorted(line.split(": ")[-2] for line in lines) == [
        "cyclonedx", "openvex", "signature", "slsa-provenance", "spdx"]
    assert all(line.endswith(": added") for line in lines)
    assert tag_of(published.digest, ".sig") in tags(registry.host, published.repo)


def test_envelopes_verify_with_securesystemslib_and_schemas(
    published: Published, registry: Registry, keys: KeyPair, other_keys: KeyPair
):
    # cosign leaves keyid empty: the verifier names the key it trusts.
    trusted, stranger = (
        SSlibKey("", key.keytype, key.scheme, key.keyval)
        for key in (SSlibKey.from_crypto(load_pem_public_key(pair.public.read_bytes()),
                                         scheme="ecdsa-sha2-nistp256")
                    for pair in (keys, other_keys))
    )
    seen = set()
    for layer, data in envelopes(registry.host, published.repo, published.digest):
        assert layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
        envelope = Envelope.from_dict(json.loads(data))
        assert envelope.payload_type == "application/vnd.in-toto+json"
        assert set(envelope.verify([trusted], 1)) == {""}
        with pytest.raises(VerificationError):
            envelope.verify([stranger], 1)
        statement = json.loads(envelope.payload)
        validate(statement, "in-toto-statement-v1.schema.json")
        parsed = json_format.ParseDict(statement, statement_pb2.Statement(),
                                       ignore_unknown_fields=False)
        InTotoStatement.copy_from_pb(parsed).validate()
        assert statement["subject"][0]["digest"] == {"sha256": published.digest[7:]}
        assert layer["annotations"]["predicateType"] == statement["predicateType"]
        validate(statement["predicate"], SCHEMAS[statement["predicateType"]])
        seen.add(statement["predicateType"])
        if statement["predicateType"] == "https://openvex.dev/ns":
            (vex,) = statement["predicate"]["statements"]
            assert (vex["vulnerability"]["name"], vex["status"]) == ("CVE-2099-0001", "affected")
        if statement["predicateType"] == "https://slsa.dev/provenance/v1":
            json_format.ParseDict(statement["predicate"], provenance_pb2.Provenance(),
                                  ignore_unknown_fields=False)
    assert seen == set(SCHEMAS)


def provenance_of(published: Published, registry: Registry) -> dict:
    for _, data in envelopes(registry.host, published.repo, published.digest):
        statement = json.loads(base64.b64decode(json.loads(data)["payload"]))
        if statement["predicateType"] == "https://slsa.dev/provenance/v1":
            return statement["predicate"]
    raise AssertionError("no provenance attestation")


def test_provenance_names_every_input_and_no_clock(published: Published, registry: Registry):
    predicate = provenance_of(published, registry)
    lock = json.loads(published.lock.read_text())
    dependencies = predicate["buildDefinition"]["resolvedDependencies"]
    by_uri = {d.get("uri"): d for d in dependencies}
    packages = lock["archs"]["amd64"]["packages"]
    assert len(packages) >= 2
    for package in packages:
        deb = by_uri[f"{package['uri']}/{package['filename']}"]
        assert deb["digest"] == {"sha256": package["sha256"]}
    for index in lock["archs"]["amd64"]["indices"]:
        release = by_uri[f"{index['uri']}/dists/{index['suite']}/Release"]
        assert release["digest"] == {"sha256": index["release_sha256"]}
    parameters = predicate["buildDefinition"]["externalParameters"]
    assert parameters["spec"]["digest"]["sha256"] == hashlib.sha256(
        published.spec.read_bytes()).hexdigest()
    assert parameters["lock"]["digest"]["sha256"] == hashlib.sha256(
        published.lock.read_bytes()).hexdigest()
    assert predicate["runDetails"]["builder"]["version"] == {"zerocve": "0.1.0"}
    assert "metadata" not in predicate["runDetails"]  # no startedOn/finishedOn/invocationId


def test_verify_reports_and_rebuilds_to_the_same_digest(
    published: Published, keys: KeyPair, tmp_path: Path
):
    table = zerocve("verify", published.reference, "--key", str(keys.public),
                    home=published.home, env=published.env)
    assert table.returncode == 0, table.stderr
    assert "SLSA v1: signed.yaml" in table.stdout and "FAIL" not in table.stdout
    rebuilt = zerocve("verify", published.reference, "--key", str(keys.public), "-o", "json",
                      "--rebuild", home=tmp_path, env={"ZEROCVE_CACHE_DIR": str(tmp_path)})
    assert rebuilt.returncode == 0, rebuilt.stderr
    report = json.loads(rebuilt.stdout)
    assert report["ok"] is True
    assert {c["kind"] for c in report["checks"]} == {
        "signature", "spdx", "cyclonedx", "slsa-provenance", "openvex", "rebuild"}
    assert report["checks"][-1] == {
        "digest": published.digest, "platform": None, "kind": "rebuild", "ok": True,
        "detail": "rebuilt from the lock: identical digest"}


def test_publishing_again_signs_nothing(published: Published, registry: Registry,
                                        keys: KeyPair):
    before = {suffix: manifest(registry.host, published.repo,
                               tag_of(published.digest, suffix))[1]
              for suffix in (".sig", ".att", "")}
    listed = tags(registry.host, published.repo)
    again = zerocve("publish", str(published.spec), published.reference, "--sign",
                    str(keys.private), home=published.home, env=published.env)
    assert again.returncode == 0, again.stderr
    lines = signing_lines(again.stderr)
    assert len(lines) == 5 and all(line.endswith(": already there") for line in lines)
    assert {suffix: manifest(registry.host, published.repo,
                             tag_of(published.digest, suffix))[1] for suffix in before} == before
    assert tags(registry.host, published.repo) == listed


def test_sbom_is_an_oci_referrer_found_first(published: Published, registry: Registry,
                                            tmp_path: Path):
    # docker-registry has no referrers API: the fallback tag lists the SBOM artifact.
    assert httpx.get(f"{registry.url}/v2/{published.repo}/referrers/{published.digest}"
                     ).status_code == 404
    index, _ = manifest(registry.host, published.repo, tag_of(published.digest, ""))
    (entry,) = index["manifests"]
    assert entry["artifactType"] == "application/spdx+json"
    artifact, _ = manifest(registry.host, published.repo, entry["digest"])
    assert artifact["subject"]["digest"] == published.digest
    document = blob(registry.host, published.repo, artifact["layers"][0]["digest"])
    result = zerocve("sbom", f"docker://{published.reference}", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == document
    # Only the published SBOM has the .debs' SHA256s (from the lock): reading the image
    # itself could not have produced it.
    packages = json.loads(document)["packages"]
    assert any(p.get("checksums") for p in packages)
    converted = zerocve("sbom", f"docker://{published.reference}", "-o", "cyclonedx-json",
                        home=tmp_path)
    assert converted.returncode == 0, converted.stderr
    validate(json.loads(converted.stdout), "bom-1.6.schema.json")


def put_attestations(registry: Registry, repo: str, digest: str, body: bytes,
                     layers: list[dict]) -> None:
    httpx.put(f"{registry.url}/v2/{repo}/manifests/{tag_of(digest, '.att')}", content=body,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
              ).raise_for_status()


def upload(registry: Registry, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = httpx.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    httpx.put(httpx.URL(registry.url).join(started.headers["Location"]).copy_merge_params(
        {"digest": digest}), content=data).raise_for_status()
    return digest


@pytest.mark.parametrize("damage", ["other subject", "truncated envelope"])
def test_bad_attestations_fail_verify(published: Published, registry: Registry, keys: KeyPair,
                                      tmp_path: Path, damage: str):
    """Another image's attestations moved onto this one, or an envelope cut short."""
    layout = make_layout(tmp_path / "victim", {"amd64": [{"etc/motd": damage.encode()}]})
    victim = f"{registry.host}/attest/victim:{damage.replace(' ', '-')}"
    assert zerocve("publish", "--no-scan", "--layout", str(layout.root), victim,
                   home=tmp_path).returncode == 0
    assert zerocve("sign", victim, "--key", str(keys.private), "--no-attest",
                   home=tmp_path).returncode == 0
    source = httpx.get(
        f"{registry.url}/v2/{published.repo}/manifests/{tag_of(published.digest, '.att')}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).content
    document = json.loads(source)
    for layer in document["layers"]:  # the blobs must be in the victim's repository too
        data = blob(registry.host, published.repo, layer["digest"])
        if damage == "truncated envelope":
            data = data[: len(data) // 2]
            layer.update(digest=upload(registry, "attest/victim", data), size=len(data))
        else:
            upload(registry, "attest/victim", data)
    config = blob(registry.host, published.repo, document["config"]["digest"])
    upload(registry, "attest/victim", config)
    put_attestations(registry, "attest/victim", layout.digest, json.dumps(document).encode(),
                     document["layers"])
    result = zerocve("verify", victim, "--key", str(keys.public), home=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    expected = ("not this digest" if damage == "other subject"
                else "DSSE envelope is not JSON (truncated?)")
    assert expected in lines[0]
    assert os.linesep.join(lines).startswith(f"error: {victim}@{layout.digest}: ")
