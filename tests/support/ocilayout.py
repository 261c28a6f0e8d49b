"""Hand-made OCI image layouts for registry tests: real gzip'd tar layers, a config, a
manifest per platform and, for several platforms, an image index. Independent of zerocve's
own image writer, so that publishing is tested on layouts it did not make."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class Layout:
    root: Path
    digest: str = ""
    """Digest of the top manifest or index."""
    blobs: dict[str, int] = field(default_factory=dict)
    """Every blob written: digest → size."""
    manifests: list[str] = field(default_factory=list)
    """Platform manifest digests, in index order."""


def _put(layout: Layout, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout.root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    layout.blobs[digest] = len(data)
    return {"digest": digest, "size": len(data)}


def tar_layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A gzip'd tar of ``files`` (fixed mtimes and owners) and its diff ID."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(content))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    return gzip.compress(raw.getvalue(), mtime=0), diff_id


def make_layout(
    root: Path, platforms: dict[str, list[dict[str, bytes]]], *, tag: str = "latest"
) -> Layout:
    """Write a layout with one image per ``platforms`` entry (arch → its layers' files);
    with more than one platform the top document is an index."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layout = Layout(root)
    descriptors = []
    for arch, layers in platforms.items():
        layer_descriptors, diff_ids = [], []
        for files in layers:
            blob, diff_id = tar_layer(files)
            layer_descriptors.append({"mediaType": LAYER, **_put(layout, blob)})
            diff_ids.append(diff_id)
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, **_put(layout, json.dumps(config).encode())},
            "layers": layer_descriptors,
        }
        described = _put(layout, json.dumps(manifest).encode())
        layout.manifests.append(str(described["digest"]))
        descriptors.append(
            {"mediaType": MANIFEST, **described, "platform": {"architecture": arch, "os": "linux"}}
        )
    if len(descriptors) == 1:
        top = {**descriptors[0]}
        top.pop("platform")
    else:
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": descriptors}
        top = {"mediaType": INDEX, **_put(layout, json.dumps(index).encode())}
    layout.digest = str(top["digest"])
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [top]})
    )
    return layout
