"""Malformed OCI layouts and archives, read through the one reader (``zerocve.oci.reader``)
by the commands that take them: `zerocve publish --layout` (against the real registry on
loopback, which must be left untouched) and `zerocve sbom` (the scan's reader). Each case is
one line on stderr naming the file, exit 3, never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from support.ocilayout import Layout, make_layout
from support.registry import Registry

pytestmark = pytest.mark.slow

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def zerocve(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200"}
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def image(root: Path) -> Layout:
    return make_layout(root, {"amd64": [{"var/lib/dpkg/status": b""}, {"etc/x": b"x" * 100}]})


def index_of(layout: Layout) -> dict:
    return json.loads((layout.root / "index.json").read_text())


def write_index(layout: Layout, index: dict) -> None:
    (layout.root / "index.json").write_text(json.dumps(index))


def blob(layout: Layout, digest: str) -> Path:
    return layout.root / "blobs" / "sha256" / digest.removeprefix("sha256:")


def lacks_size(layout: Layout) -> str:
    index = index_of(layout)
    del index["manifests"][0]["size"]
    write_index(layout, index)
    return r"index\.json: manifests\[0\]: descriptor lacks 'size'$"


def two_untagged(layout: Layout) -> str:
    index = index_of(layout)
    first = index["manifests"][0]
    index["manifests"] = [
        {**first, "annotations": {"org.opencontainers.image.ref.name": name}}
        for name in ("a", "b")
    ]
    write_index(layout, index)
    return (r"index\.json: holds 2 images \(ref names: a, b\); exactly one must be named "
            r"'v1' to choose it$")


def names_none(layout: Layout) -> str:
    write_index(layout, {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": []})
    return r"index\.json: names no image$"


def huge_index(layout: Layout) -> str:
    index = index_of(layout)
    index["padding"] = "x" * (4 << 20)
    write_index(layout, index)
    return r": index\.json is larger than 4194304 bytes$"


def escaping_digest(layout: Layout) -> str:
    index = index_of(layout)
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    write_index(layout, index)
    return r"invalid digest 'sha256:\.\./\.\./\.\./etc/passwd'$"


def grown_layer(layout: Layout) -> str:
    manifest = json.loads(blob(layout, layout.digest).read_bytes())
    layer = manifest["layers"][1]
    with open(blob(layout, layer["digest"]), "ab") as f:
        f.write(b"!")
    return (rf"blobs/sha256/{layer['digest'][7:]}: blob is {layer['size'] + 1} bytes, its "
            rf"descriptor says {layer['size']}$")


def layers_not_a_list(layout: Layout) -> str:
    manifest = json.loads(blob(layout, layout.digest).read_bytes())
    manifest["layers"] = {"not": "a list"}
    data = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob(layout, digest).write_bytes(data)
    index = index_of(layout)
    index["manifests"][0].update(digest=digest, size=len(data))
    write_index(layout, index)
    return rf"blobs/sha256/{digest[7:]}: manifest without a layers list$"


def missing_config(layout: Layout) -> str:
    manifest = json.loads(blob(layout, layout.digest).read_bytes())
    config = manifest["config"]["digest"]
    blob(layout, config).unlink()
    return rf"blobs/sha256/{config[7:]}: blob {config} is missing from the layout$"


Breaker = Callable[[Layout], str]


@pytest.mark.parametrize(
    "breaker",
    [lacks_size, two_untagged, names_none, huge_index, escaping_digest, grown_layer,
     layers_not_a_list, missing_config],
)
def test_publish_refuses_a_malformed_layout(
    breaker: Breaker, registry: Registry, tmp_path: Path
) -> None:
    layout = image(tmp_path / "layout")
    pattern = breaker(layout)
    repository = f"{registry.host}/reader/{breaker.__name__}"
    result = zerocve("publish", "--no-scan", "--layout", str(layout.root), f"{repository}:v1",
                     home=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(layout.root) in lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    # Nothing reached the registry: not even a manifest by digest.
    tags = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                           f"docker://{repository}"],
                          capture_output=True, text=True, timeout=60)
    assert tags.returncode != 0 or json.loads(tags.stdout)["Tags"] in (None, [])


@pytest.mark.parametrize("breaker", [huge_index, escaping_digest])
def test_scan_reader_refuses_the_same_layouts(breaker: Breaker, tmp_path: Path) -> None:
    layout = image(tmp_path / "layout")
    pattern = breaker(layout)
    result = zerocve("sbom", str(layout.root), home=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(layout.root) in lines[0], result.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_oci_archive_missing_blob_names_the_archive(tmp_path: Path) -> None:
    layout = image(tmp_path / "layout")
    manifest = json.loads(blob(layout, layout.digest).read_bytes())
    gone = manifest["layers"][0]["digest"]
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.root.rglob("*")):
            if path.is_file() and path.name != gone[7:]:
                tar.add(path, arcname=str(path.relative_to(layout.root)))
    result = zerocve("sbom", f"oci-archive:{archive}", home=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(f"{archive}: blobs/sha256/{gone[7:]} is missing from the archive")
