"""The build cache cannot lie: its key covers every module that shapes the image's bytes, so
after an upgrade of any of them a cached build and a fresh one agree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zerocve.assemble.code import PACKAGE_ROOT, code_digest, contributing_files

# The modules the review found missing from the hand-made list (embedded SBOM, media types).
KNOWN = ["assemble/image.py", "oci/layer.py", "oci/image.py", "oci/media_types.py",
         "debian/deb.py", "sbom/embedded.py", "sbom/spdx.py", "bom/common.py",
         "inventory/licenses.py", "inventory/purls.py"]


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    """A private copy of the zerocve package to change."""
    copy = tmp_path / "src" / "zerocve"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_every_module_the_builder_imports_is_in_the_key(source_copy: Path) -> None:
    files = [str(p.relative_to(source_copy)) for p in contributing_files(source_copy)]
    assert set(KNOWN) <= set(files)
    digest = code_digest.__wrapped__  # uncached: the same root changes below
    before = digest(source_copy)
    for relative in files:
        path = source_copy / relative
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        assert digest(source_copy) != before, f"{relative} does not change the cache key"
        path.write_bytes(original)
    assert digest(source_copy) == before


# Edits that change the image's bytes, in modules the old hand-made list left out.
EDITS = {
    "bom/common.py": ('TOOL = "zerocve"', 'TOOL = "zerocve-upgraded"'),
    "inventory/purls.py": ('qualifiers = {"arch": arch}', 'qualifiers = {"arch": arch, "x": "y"}'),
}


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(EDITS))
def test_cached_and_fresh_builds_agree_after_a_module_changes(
    module: str, spec_file, source_copy: Path, tmp_path: Path
) -> None:
    spec = spec_file(["tzdata"])
    env = {**os.environ, "PYTHONPATH": str(source_copy.parent),
           "ZEROCVE_CACHE_DIR": str(tmp_path / "cache")}

    def build(*options: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "zerocve", "build", str(spec), "--no-scan",
             "-o", str(tmp_path / "out"), *options],
            capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    old = build()  # fills the cache
    path = source_copy / module
    before, after = EDITS[module]
    assert before in path.read_text()
    path.write_text(path.read_text().replace(before, after))
    cached, fresh = build(), build("--no-cache")
    assert cached == fresh != old
