"""Hand-made image layers and OCI layouts for inventory tests: real tar files (gzip, zstd or
none) holding files, symlinks, hard links and whiteouts, written as an OCI layout with a
config whose diff_ids match, so skopeo and umoci accept what these tests scan."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    None: "application/vnd.oci.image.layer.v1.tar",
}


@dataclass(frozen=True)
class Link:
    path: str
    target: str
    hard: bool = False


@dataclass(frozen=True)
class Dir:
    path: str


Entry = tuple[str, bytes] | Link | Dir


def tar_bytes(entries: list[Entry]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, Dir):
                info = tarfile.TarInfo(entry.path)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(entry, Link):
                info = tarfile.TarInfo(entry.path)
                info.type = tarfile.LNKTYPE if entry.hard else tarfile.SYMTYPE
                info.linkname = entry.target
                tar.addfile(info)
            else:
                name, content = entry
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
                tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def compress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class LayoutWriter:
    """Writes blobs into ``root`` (an OCI layout) and returns descriptors."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data: bytes, media_type: str, **extra: object) -> dict[str, object]:
        d = digest(data)
        (self.root / "blobs" / "sha256" / d[7:]).write_bytes(data)
        return {"mediaType": media_type, "digest": d, "size": len(data), **extra}

    def image(
        self,
        layers: list[list[Entry]],
        *,
        arch: str = "amd64",
        compression: str | None = "gzip",
        platform_in_descriptor: bool = True,
        tars: list[bytes] | None = None,
    ) -> dict[str, object]:
        """An image manifest (and its config and layers); returns its descriptor. ``tars``
        gives the layers' tar files as they are, instead of ``layers``."""
        tars = tars if tars is not None else [tar_bytes(entries) for entries in layers]
        layer_descriptors = [
            self.blob(compress(t, compression), LAYER_TYPES[compression]) for t in tars
        ]
        config = {
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest(t) for t in tars]},
            "config": {},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": self.blob(json.dumps(config).encode(), CONFIG),
            "layers": layer_descriptors,
        }
        extra = {"platform": {"os": "linux", "architecture": arch}}
        if not platform_in_descriptor:
            extra = {}
        return self.blob(json.dumps(manifest).encode(), MANIFEST, **extra)

    def index(self, descriptors: list[dict[str, object]]) -> dict[str, object]:
        body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": descriptors}
        return self.blob(json.dumps(body).encode(), INDEX)

    def top(self, descriptors: list[dict[str, object]]) -> None:
        body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": descriptors}
        (self.root / "index.json").write_text(json.dumps(body))


def status(*packages: tuple[str, str, str, str]) -> bytes:
    """A dpkg status file: (name, version, arch, source field)."""
    stanzas = []
    for name, version, arch, source in packages:
        lines = [f"Package: {name}", "Status: install ok installed", f"Architecture: {arch}"]
        if source:
            lines.append(f"Source: {source}")
        lines.append(f"Version: {version}")
        lines.append(f"Description: {name}\n long description")
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas).encode()


BOOKWORM_OS_RELEASE = (
    b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    b'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
)
