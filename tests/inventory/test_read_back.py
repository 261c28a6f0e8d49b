"""``zerocve build`` judges the image it wrote by reading it back (the SBOM beside it, then the
check that it holds exactly the lock's packages): each layer is read from disk once, not once
per check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.aptrepo import AptRepo

# python -m zerocve, with every layer read counted (by digest) and printed at exit.
_COUNTED = """
import atexit, sys
import zerocve.inventory.image_fs as image_fs
reads = []
original = image_fs.read_layer
def counted(layer, wanted):
    reads.append(layer.digest)
    return original(layer, wanted)
image_fs.read_layer = counted
atexit.register(lambda: print("layer reads:", *reads, file=sys.stderr))
from zerocve.cli import main
sys.argv[0] = "zerocve"
main()
"""


@pytest.mark.slow
def test_a_cold_build_reads_each_layer_it_wrote_once(apt_repo: AptRepo, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEROCVE_CACHE_DIR", str(tmp_path / "cache"))  # nothing read before
    spec = tmp_path / "app.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": ["bookworm"],
                          "keyring": str(apt_repo.keyring)}],
        "packages": ["base-files", "zlib1g"],
    }}))
    done = subprocess.run([sys.executable, "-c", _COUNTED, "build", str(spec), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    manifest_digest = json.loads((tmp_path / "out" / "index.json").read_text())["manifests"][0]
    manifest = json.loads((tmp_path / "out" / "blobs" / "sha256" /
                           manifest_digest["digest"].removeprefix("sha256:")).read_text())
    layers = [layer["digest"] for layer in manifest["layers"]]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("layer reads:")]
    reads = line.split()[2:]
    assert sorted(reads) == sorted(layers)  # each once: the SBOM's read serves the lock check
