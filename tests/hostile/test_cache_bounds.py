"""Files and caches that would grow without end: a layer whose dpkg status is hundreds of
megabytes of zeros (4.6 MB compressed), and caches that only ever grew. The status is refused
from its tar header (nothing of it is read or cached); the .deb download cache, the build
cache and the layer-index cache keep under their bounds, least recently used first."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_measured

from support.ocilayout import make_layout
from zerocve import api
from zerocve.assemble.cache import BuildCache
from zerocve.cache_seal import CacheSeal
from zerocve.debian.cache import BlobCache
from zerocve.errors import UsageError
from zerocve.inventory.image_fs import Entry, LayerIndex
from zerocve.inventory.layer_cache import LayerCache
from zerocve.inventory.tree import MAX_FILE, Node
from zerocve.settings import CacheBounds, Settings

ZEROS = MAX_FILE * 2  # the status file: twice what zerocve reads from an image
PEAK_LIMIT_MIB = 150


class _Hashing:
    """A file that hashes what is written to it (for a layer's digest and diff_id)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def zero_status_layout(root: Path) -> Path:
    """An OCI layout whose one layer holds /var/lib/dpkg/status: ``ZEROS`` zero bytes,
    streamed through gzip so the test never holds them."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    staging = _Hashing(root / "layer.tmp")
    with gzip.GzipFile(fileobj=staging, mode="wb", compresslevel=1, mtime=0) as gz:  # type: ignore[arg-type]
        diff = _Hashing(Path(os.devnull))

        def both(data: bytes) -> None:
            diff.write(data)
            gz.write(data)

        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = ZEROS
        both(info.tobuf(tarfile.GNU_FORMAT))
        chunk = bytes(1 << 20)
        for _ in range(ZEROS // len(chunk)):
            both(chunk)
        both(bytes(1024))
    staging.file.close()
    layer = "sha256:" + staging.hash.hexdigest()
    os.replace(root / "layer.tmp", blobs / layer[7:])

    def put(document: dict) -> dict:
        data = json.dumps(document).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (blobs / digest[7:]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    config = put({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hash.hexdigest()]}})
    manifest = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": layer, "size": staging.size}]})
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest}]}))
    return root


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def test_huge_status_in_a_layer_is_refused_and_not_cached(tmp_path: Path,
                                                          tracker_db: Path) -> None:
    layout = zero_status_layout(tmp_path / "image")
    cache = tmp_path / "cache"
    done, peak = run_measured("scan", f"oci:{layout}", "--db", str(tracker_db),
                              env={**os.environ, "ZEROCVE_CACHE_DIR": str(cache)})
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3, done.stderr
    line = one_error_line(done)
    assert f"/var/lib/dpkg/status: {ZEROS} bytes, more than the {MAX_FILE}" in line
    assert not cache.exists() or _size(cache) < 1 << 20  # no index of the layer kept


def test_huge_status_in_a_directory_is_refused(tmp_path: Path, tracker_db: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "var/lib/dpkg").mkdir(parents=True)
    with (root / "var/lib/dpkg/status").open("wb") as f:
        f.truncate(ZEROS)  # sparse: costs no disk
    done, peak = run_measured("scan", f"dir:{root}", "--db", str(tracker_db))
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3
    assert "status: " in one_error_line(done) and "refused" in done.stderr


def _blob(n: int) -> tuple[str, bytes]:
    data = n.to_bytes(4, "big") * 256  # 1 KiB, distinct per n
    return hashlib.sha256(data).hexdigest(), data


def test_deb_cache_keeps_under_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "debs", max_bytes=4 << 10)
    stored = []
    for n in range(6):
        digest, data = _blob(n)
        stored.append(digest)
        cache.put_stream(digest, len(data), [data])
        if n == 2:
            os.utime(cache.path(stored[0]), ns=(1, 1))  # make the first entry the oldest
            assert cache.get(stored[0]) is not None  # ... and then use it: it is kept
        assert _size(cache.blobs) <= 4 << 10
    kept = {p.name for p in cache.blobs.iterdir()}
    assert stored[0] in kept and stored[-1] in kept and stored[1] not in kept


def test_build_cache_is_bounded(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "build", CacheSeal(bytes(32)), max_bytes=3 << 10)
    for n in range(8):
        digest, data = _blob(n)
        cache.store_layer("sha256:" + hashlib.sha256(digest.encode()).hexdigest(), data)
    assert _size(cache.blobs.blobs) <= 3 << 10
    # An evicted layer is a miss, never an error.
    first = "sha256:" + hashlib.sha256(_blob(0)[0].encode()).hexdigest()
    assert cache.compressed_layer(first) is None


def test_layer_index_cache_is_bounded(tmp_path: Path) -> None:
    cache = LayerCache("test", tmp_path, CacheSeal(bytes(32)), max_bytes=64 << 10)
    for n in range(20):
        status = Entry(Node("file"), data=bytes(4 << 10) + bytes([n]))
        index = LayerIndex(entries={"var/lib/dpkg/status": status})
        cache.store(f"sha256:{n:064x}", index)
        assert _size(cache.directory) <= 64 << 10
    assert cache.load(f"sha256:{19:064x}") is not None
    assert cache.load(f"sha256:{0:064x}") is None
    # An index over a quarter of the bound is not kept at all.
    cache.store("sha256:" + "f" * 64,
                LayerIndex(entries={"big": Entry(Node("file"), data=bytes(32 << 10))}))
    assert cache.load("sha256:" + "f" * 64) is None


STATUS = b"""Package: hello
Status: install ok installed
Architecture: amd64
Version: 1.0
Description: hello
 long description
"""


def test_cache_bounds_come_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings.from_env reads ZEROCVE_*_CACHE_MAX once; each cache gets its bound passed
    down, and none reads the environment itself."""
    environ = {"ZEROCVE_CACHE_DIR": str(tmp_path / "cache"), "ZEROCVE_DEB_CACHE_MAX": "300M",
               "ZEROCVE_BUILD_CACHE_MAX": "1g", "ZEROCVE_LAYER_INDEX_CACHE_MAX": "64",
               "ZEROCVE_INDEX_CACHE_MAX": "12345"}
    settings = Settings.from_env(environ)
    assert settings.cache_bounds == CacheBounds(deb=300 << 20, build=1 << 30, layer_index=64,
                                                index=12345)
    with api.repo_client(settings) as client:
        assert (client.cache.max_bytes, client.parsed.max_bytes) == (300 << 20, 12345)
    # A layer index over a quarter of its bound is not kept: 64 bytes keep none of them.
    layout = make_layout(tmp_path / "layout", {"amd64": [{"var/lib/dpkg/status": STATUS}]})
    assert [p.name for p in api.inventory(layout.root, settings).packages] == ["hello"]
    assert not list((settings.cache_dir / "layer-index").rglob("*.json"))
    api.inventory(layout.root, settings.with_(cache_bounds=CacheBounds()))
    assert len(list((settings.cache_dir / "layer-index").rglob("*.json"))) == 1
    # Below Settings nothing reads the environment: a bad value there changes nothing.
    monkeypatch.setenv("ZEROCVE_DEB_CACHE_MAX", "lots")
    monkeypatch.setenv("ZEROCVE_LAYER_INDEX_CACHE_MAX", "lots")
    assert BlobCache(tmp_path / "debs").max_bytes == 2 << 30
    assert LayerCache("k", tmp_path, CacheSeal(bytes(32))).max_bytes == 512 << 20


@pytest.mark.parametrize("name", ["DEB", "BUILD", "LAYER_INDEX", "INDEX"])
def test_a_bad_cache_bound_is_one_usage_line(name: str, tmp_path: Path) -> None:
    variable = f"ZEROCVE_{name}_CACHE_MAX"
    with pytest.raises(UsageError, match=rf"^{variable}='lots': expected a size in bytes"):
        Settings.from_env({variable: "lots"})
    layout = make_layout(tmp_path / "layout", {"amd64": [{"var/lib/dpkg/status": STATUS}]})
    done = subprocess.run([sys.executable, "-m", "zerocve", "sbom", str(layout.root)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, variable: "12X"})
    assert done.returncode == 2
    assert one_error_line(done) == (
        f"error: {variable}='12X': expected a size in bytes, e.g. 2G or 500M"
    )
