"""OCI image config, manifest and index documents, as canonical JSON blobs.

Canonical: keys sorted, no insignificant whitespace, UTF-8; so the same inputs give the same
digests. Timestamps are RFC 3339 in UTC from the build's ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zerocve.oci import media_types
from zerocve.oci.layer import Layer
from zerocve.oci.platform import Platform

MEDIA_MANIFEST = media_types.OCI_MANIFEST
MEDIA_INDEX = media_types.OCI_INDEX
MEDIA_CONFIG = media_types.OCI_CONFIG
MEDIA_LAYER_GZIP = media_types.OCI_LAYER_GZIP
ANNOTATION_CREATED = media_types.ANNOTATION_CREATED
ANNOTATION_REF_NAME = media_types.ANNOTATION_REF_NAME

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Debian architecture -> OCI (GOARCH, variant).


def canonical_json(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Blob:
    """Bytes addressed by their digest, with the media type they are served as."""

    media_type: str
    data: bytes = field(repr=False)
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", "sha256:" + hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class RunConfig:
    """What the runtime needs to start the image (the config's ``config`` object)."""

    user: str  # numeric "uid:gid"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        env = {"PATH": DEFAULT_PATH, **self.env}
        document: dict[str, Any] = {
            "User": self.user,
            "Env": [f"{key}={value}" for key, value in sorted(env.items())],
        }
        if self.entrypoint:
            document["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            document["Cmd"] = list(self.cmd)
        if self.working_dir:
            document["WorkingDir"] = self.working_dir
        return document


def config_blob(
    platform: Platform, run: RunConfig, layers: Sequence[Layer], created: int
) -> Blob:
    stamp = rfc3339(created)
    document: dict[str, Any] = {
        "created": stamp,
        **platform.to_json(),
        "config": run.to_json(),
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": stamp, "created_by": "zerocve", "comment": layer.comment}
            for layer in layers
        ],
    }
    return Blob(MEDIA_CONFIG, canonical_json(document))


def manifest_blob(
    config: Blob, layers: Sequence[Layer], annotations: Mapping[str, str], created: int
) -> Blob:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": [
            {"mediaType": MEDIA_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
        "annotations": {ANNOTATION_CREATED: rfc3339(created), **annotations},
    }
    return Blob(MEDIA_MANIFEST, canonical_json(document))


def index_blob(
    manifests: Sequence[tuple[Blob, Platform]], annotations: Mapping[str, str], created: int
) -> Blob:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            blob.descriptor(platform=platform.to_json()) for blob, platform in manifests
        ],
        "annotations": {ANNOTATION_CREATED: rfc3339(created), **annotations},
    }
    return Blob(MEDIA_INDEX, canonical_json(document))


@dataclass(frozen=True)
class OciImage:
    """A complete image: its top document (manifest, or index for several platforms) and
    every blob it references, keyed by digest (the top document included)."""

    top: Blob
    blobs: Mapping[str, Blob]

    @property
    def digest(self) -> str:
        return self.top.digest

    @classmethod
    def single(cls, manifest: Blob, config: Blob, layers: Sequence[Layer]) -> OciImage:
        blobs = {b.digest: b for b in (manifest, config)}
        for layer in layers:
            blobs[layer.digest] = Blob(MEDIA_LAYER_GZIP, layer.data)
        return cls(manifest, blobs)

    @classmethod
    def multi(
        cls, images: Sequence[tuple[OciImage, Platform]], annotations: Mapping[str, str],
        created: int,
    ) -> OciImage:
        index = index_blob([(image.top, platform) for image, platform in images],
                           annotations, created)
        blobs: dict[str, Blob] = {index.digest: index}
        for image, _ in images:
            blobs.update(image.blobs)
        return cls(index, blobs)
