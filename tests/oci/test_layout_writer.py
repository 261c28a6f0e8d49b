"""OCI layout and oci-archive writers: all or nothing, deterministic, readable by skopeo."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from zerocve.errors import BuildError, UsageError
from zerocve.oci import archive, layout
from zerocve.oci.image import (
    MEDIA_MANIFEST,
    OciImage,
    Platform,
    RunConfig,
    config_blob,
    manifest_blob,
)
from zerocve.oci.layer import Entry, EntryKind, make_layer

EPOCH = 1_700_000_000


def _image(text: bytes, base: bytes | None = None) -> OciImage:
    layers = [make_layer([Entry("hello", EntryKind.FILE, 0o644, data=text)], EPOCH, "test")]
    if base is not None:  # a first layer that images made with the same base share
        layers.insert(0, make_layer([Entry("base", EntryKind.FILE, 0o644, data=base)], EPOCH,
                                    "base"))
    config = config_blob(Platform.from_debian("amd64"), RunConfig(user="65532:65532"), layers,
                         EPOCH)
    manifest = manifest_blob(config, layers, {"org.example": "x"}, EPOCH)
    return OciImage.single(manifest, config, layers)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_layout_is_what_skopeo_reads(tmp_path: Path) -> None:
    image = _image(b"one")
    out = layout.write_layout(image, tmp_path / "out")
    assert (out / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"] == [{
        "mediaType": MEDIA_MANIFEST, "digest": image.digest, "size": image.top.size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
    assert len(list((out / "blobs/sha256").iterdir())) == 3
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{out}:latest"], check=True,
                                     capture_output=True, text=True).stdout)
    assert info["Digest"] == image.digest
    assert info["Created"] == "2023-11-14T22:13:20Z"


def test_replacing_a_layout_leaves_only_the_new_one(tmp_path: Path) -> None:
    layout.write_layout(_image(b"one"), tmp_path / "out")
    new = _image(b"two")
    layout.write_layout(new, tmp_path / "out")
    assert _tree(tmp_path / "out") == _tree(layout.write_layout(new, tmp_path / "fresh"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "out"]  # no temp dirs


def test_failed_write_keeps_the_old_layout(tmp_path: Path, monkeypatch) -> None:
    layout.write_layout(_image(b"one"), tmp_path / "out")
    before = _tree(tmp_path / "out")
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        path.write_bytes(data)

    monkeypatch.setattr(layout, "_write_synced", failing)
    with pytest.raises(BuildError, match=r"out: cannot write the layout: No space left"):
        layout.write_layout(_image(b"two"), tmp_path / "out")
    assert _tree(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_first_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def failing(path: Path, data: bytes) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(layout, "_write_synced", failing)
    with pytest.raises(BuildError):
        layout.write_layout(_image(b"one"), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_target_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("precious")
    with pytest.raises(UsageError, match="exists and is not an OCI image layout"):
        layout.write_layout(_image(b"one"), tmp_path / "out")
    assert (tmp_path / "out").read_text() == "precious"


def test_a_directory_that_is_not_a_layout_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home/notes.txt").write_text("precious")
    with pytest.raises(UsageError, match="is not an OCI image layout; refusing to replace"):
        layout.write_layout(_image(b"one"), tmp_path / "home")
    assert (tmp_path / "home/notes.txt").read_text() == "precious"
    (tmp_path / "empty").mkdir()
    layout.write_layout(_image(b"one"), tmp_path / "empty")
    assert (tmp_path / "empty/oci-layout").is_file()


def test_archive_is_deterministic_and_readable(tmp_path: Path) -> None:
    image = _image(b"one")
    first = archive.write_archive(image, tmp_path / "a.tar", EPOCH)
    second = archive.write_archive(_image(b"one"), tmp_path / "b.tar", EPOCH)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert all(m.uid == 0 and m.mtime == EPOCH for m in tar.getmembers())
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-2:] == ["index.json", "oci-layout"]
    assert names == sorted(names, key=lambda name: name.split("/"))
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci-archive:{first}"], check=True,
                                     capture_output=True, text=True).stdout)
    assert info["Digest"] == image.digest


def test_failed_archive_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "image.tar"
    archive.write_archive(_image(b"old"), target, EPOCH)
    old = target.read_bytes()

    def failing(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(BuildError, match=r"image\.tar: cannot write the archive"):
        archive.write_archive(_image(b"one"), target, EPOCH)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["image.tar"]


def _inodes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_ino for p in root.rglob("*") if p.is_file()}


def test_writing_the_same_image_again_leaves_the_layout_as_it_is(tmp_path: Path) -> None:
    image = _image(b"one")
    out = layout.write_layout(image, tmp_path / "out")
    before = _inodes(out)
    assert layout.write_layout(image, out) == out
    assert _inodes(out) == before  # nothing written, renamed or removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # Another tag is another index.json: written anew, its unchanged blobs linked.
    layout.write_layout(image, out, "v2")
    after = _inodes(out)
    assert after["index.json"] != before["index.json"]
    assert {k: v for k, v in after.items() if k.startswith("blobs/")} == {
        k: v for k, v in before.items() if k.startswith("blobs/")}
    assert _tree(out) == _tree(layout.write_layout(image, tmp_path / "fresh", "v2"))


def test_a_changed_image_links_only_the_blobs_it_shares(tmp_path: Path) -> None:
    first = _image(b"one", base=b"base")
    out = layout.write_layout(first, tmp_path / "out")
    before = _inodes(out)
    second = _image(b"two", base=b"base")
    shared = set(first.blobs) & set(second.blobs)
    assert len(shared) == 1  # the base layer
    layout.write_layout(second, out)
    after = _inodes(out)
    for digest in second.blobs:
        name = "blobs/" + digest.replace(":", "/")
        assert (after[name] == before.get(name)) == (digest in shared), name
    assert _tree(out) == _tree(layout.write_layout(second, tmp_path / "fresh"))


@pytest.mark.parametrize("damage", ["altered blob", "symlinked blob", "extra file"])
def test_what_differs_from_the_image_is_written_anew(tmp_path: Path, damage: str) -> None:
    image = _image(b"one")
    out = layout.write_layout(image, tmp_path / "out")
    expected = _tree(out)
    layer = out / "blobs" / next(iter(image.blobs)).replace(":", "/")
    if damage == "altered blob":
        layer.write_bytes(layer.read_bytes()[:-1] + b"\0")
    elif damage == "symlinked blob":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.write_bytes(layer.read_bytes())
        layer.unlink()
        layer.symlink_to(elsewhere)
    else:
        (out / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"planted")
    layout.write_layout(image, out)
    assert _tree(out) == expected
    assert not any(p.is_symlink() for p in out.rglob("*"))
