"""The build pipeline's small pure-ish helpers: which platforms a layout holds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from zerocve.oci.image import MEDIA_INDEX
from zerocve.pipeline import layout_platforms

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def write_layout(root: Path, top: dict[str, object], blob: dict[str, object] | None) -> Path:
    (root / "blobs" / "sha256").mkdir(parents=True)
    if blob is not None:
        data = json.dumps(blob).encode()
        digest = hashlib.sha256(data).hexdigest()
        (root / "blobs" / "sha256" / digest).write_bytes(data)
        top = {**top, "digest": f"sha256:{digest}"}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return root


def test_an_index_lists_each_platform(tmp_path: Path):
    index = {
        "manifests": [
            {"platform": {"os": "linux", "architecture": "amd64"}},
            {"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ]
    }
    layout = write_layout(tmp_path, {"mediaType": MEDIA_INDEX}, index)
    assert layout_platforms(layout) == ["linux/amd64", "linux/arm64/v8"]


def test_a_single_image_has_no_platform_to_choose(tmp_path: Path):
    layout = write_layout(tmp_path, {"mediaType": MANIFEST, "digest": "sha256:00"}, None)
    assert layout_platforms(layout) == [None]


def test_an_unreadable_layout_is_left_for_the_scan_to_report(tmp_path: Path):
    assert layout_platforms(tmp_path / "missing") == [None]
    broken = write_layout(tmp_path / "broken", {"mediaType": MEDIA_INDEX, "digest": "x"}, None)
    assert layout_platforms(broken) == [None]
