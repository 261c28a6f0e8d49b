"""Image config, manifest and index documents; the build date; the run configuration."""

from __future__ import annotations

import json

import pytest

from zerocve.assemble.image import run_config
from zerocve.errors import BuildError
from zerocve.oci.image import (
    MEDIA_INDEX,
    Blob,
    OciImage,
    Platform,
    RunConfig,
    config_blob,
    index_blob,
    manifest_blob,
)
from zerocve.oci.layer import Entry, EntryKind, make_layer
from zerocve.spec import parse_spec


def test_run_config_from_spec() -> None:
    spec = parse_spec(
        "contents: {packages: [python3]}\n"
        "entrypoint: {command: /usr/bin/python3 -u}\n"
        "cmd: [-c, 'print(1)']\n"
        "work-dir: /app\n"
        "environment: {PYTHONUNBUFFERED: '1', PATH: /opt/bin:/usr/bin}\n"
    )
    run = run_config(spec)
    assert run == RunConfig(user="65532:65532", entrypoint=("/usr/bin/python3", "-u"),
                            cmd=("-c", "print(1)"), env={"PYTHONUNBUFFERED": "1",
                                                         "PATH": "/opt/bin:/usr/bin"},
                            working_dir="/app")
    assert run.to_json() == {
        "User": "65532:65532",
        "Env": ["PATH=/opt/bin:/usr/bin", "PYTHONUNBUFFERED=1"],
        "Entrypoint": ["/usr/bin/python3", "-u"],
        "Cmd": ["-c", "print(1)"],
        "WorkingDir": "/app",
    }
    bare = run_config(parse_spec("contents: {packages: [tzdata]}\ncmd: /bin/true --x\n"))
    assert bare.to_json()["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert bare.cmd == ("/bin/true", "--x") and bare.entrypoint == ()



def test_platforms() -> None:
    assert Platform.from_debian("arm64").to_json() == {
        "os": "linux", "architecture": "arm64", "variant": "v8"}
    assert Platform.from_debian("armhf").to_json()["variant"] == "v7"
    assert Platform.from_debian("ppc64el").architecture == "ppc64le"
    assert Platform.from_debian("i386").architecture == "386"
    with pytest.raises(BuildError, match="architecture 'vax': no OCI platform"):
        Platform.from_debian("vax")


def test_documents_are_canonical_json() -> None:
    layers = [make_layer([Entry("a", EntryKind.FILE, 0o644, data=b"x")], 0, "one")]
    config = config_blob(Platform.from_debian("arm64"), RunConfig(user="0:0"), layers, 86400)
    document = json.loads(config.data)
    assert config.data == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert document["created"] == "1970-01-02T00:00:00Z"
    assert document["variant"] == "v8"
    assert document["rootfs"] == {"type": "layers", "diff_ids": [layers[0].diff_id]}
    assert document["history"] == [{"created": "1970-01-02T00:00:00Z", "created_by": "zerocve",
                                    "comment": "one"}]
    manifest = manifest_blob(config, layers, {"org.opencontainers.image.title": "t"}, 86400)
    body = json.loads(manifest.data)
    assert body["config"] == {"mediaType": "application/vnd.oci.image.config.v1+json",
                              "digest": config.digest, "size": config.size}
    assert body["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert body["annotations"] == {"org.opencontainers.image.created": "1970-01-02T00:00:00Z",
                                   "org.opencontainers.image.title": "t"}
    image = OciImage.single(manifest, config, layers)
    assert set(image.blobs) == {manifest.digest, config.digest, layers[0].digest}
    index = index_blob([(manifest, Platform.from_debian("arm64"))], {}, 0)
    assert json.loads(index.data)["mediaType"] == MEDIA_INDEX
    assert Blob("x", b"").digest == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
