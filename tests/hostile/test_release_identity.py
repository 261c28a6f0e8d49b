"""The Debian release an image claims comes from the signed Release, not from a suite name:
``suites: [stable]`` gives an /etc/os-release with VERSION_ID 12 and VERSION_CODENAME bookworm,
so scanners know which advisories apply (issue 6, point 9)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from support.aptrepo import SigningKey, resign
from support.lockkit import hello_debs, signed_repo, write_spec, zerocve

pytestmark = pytest.mark.slow


def layout_file(layout: Path, path: str) -> bytes:
    """``path`` as the image's layers leave it (the last layer holding it wins)."""
    blobs = layout / "blobs" / "sha256"
    top = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((blobs / top.removeprefix("sha256:")).read_bytes())
    found = None
    for layer in manifest["layers"]:
        data = gzip.decompress((blobs / layer["digest"].removeprefix("sha256:")).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.name.removeprefix("./") == path and member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    found = extracted.read()
    assert found is not None, f"{path} not in the image"
    return found


@pytest.mark.parametrize(
    ("codename", "version", "expected"),
    [("bookworm", "12.7", ("12", "bookworm")), ("stable", "12.7", ("12", "bookworm"))],
    ids=["codename", "version-only"],
)
def test_suite_alias_gets_its_release_from_the_signed_release(
    tmp_path: Path, codename: str, version: str, expected: tuple[str, str]
) -> None:
    key = SigningKey.create(tmp_path / "gnupg")
    repo = signed_repo(tmp_path / "repo", key, hello_debs(tmp_path / "debs"), suite="stable")
    resign(repo, lambda text: text.replace(
        "Codename: stable\n", f"Codename: {codename}\nVersion: {version}\n"), suite="stable")
    spec = write_spec(tmp_path / "image.yaml", repo, ["hello"])  # no base-files
    assert zerocve("lock", spec).returncode == 0
    done = zerocve("build", spec, "-o", tmp_path / "out", "--no-scan", "--locked")
    assert done.returncode == 0, done.stderr
    os_release = layout_file(tmp_path / "out", "usr/lib/os-release").decode()
    version_id, name = expected
    assert f'VERSION_ID="{version_id}"\n' in os_release
    assert f"VERSION_CODENAME={name}\n" in os_release
