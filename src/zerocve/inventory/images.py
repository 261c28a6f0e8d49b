"""Find one platform's image in an OCI layout, an oci-archive or a registry, and its layers.

The three differ only in where bytes come from (a ``blobs/`` directory, tar members, the
distribution API), so each is a small ``ImageSource``; choosing the manifest (through nested
indexes, by platform, skipping attestations and other artifacts) is written once.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from zerocve.errors import InventoryError, RegistryError, UsageError
from zerocve.inventory.image_fs import Layer
from zerocve.inventory.tree import normalize
from zerocve.oci.reference import parse_reference
from zerocve.progress import NULL_REPORTER, Reporter

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_PLATFORM = "linux/amd64"
# The distribution spec lets registries refuse manifests over 4 MiB; nothing real is larger.
MAX_MANIFEST = 4 << 20
_MAX_NESTING = 4


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64/v8`` → Platform; ``UsageError`` on anything else."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
        return cls(*parts)

    @classmethod
    def from_json(cls, data: Any) -> Platform | None:
        if not isinstance(data, dict):
            return None
        return cls(
            str(data.get("os", "")), str(data.get("architecture", "")), str(data.get("variant", ""))
        )

    def matches(self, other: Platform) -> bool:
        """Whether an image for ``other`` serves a request for ``self`` (a variant is only
        compared when asked for; arm64's default variant is v8)."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if not self.variant:
            return True
        default = "v8" if self.architecture == "arm64" else ""
        return self.variant == (other.variant or default)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _digest_of(data: bytes, digest: str) -> bool:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        return False
    return hashlib.new(algorithm, data).hexdigest() == hexdigest


def _checked(digest: str) -> str:
    """``digest`` when it is ``sha256:``/``sha512:`` + lowercase hex (it becomes a path)."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not re.fullmatch(r"[0-9a-f]{64,128}", hexdigest):
        raise InventoryError(f"invalid digest {digest!r}")
    return digest


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InventoryError(f"{where}: not JSON ({e})") from e
    if not isinstance(document, dict):
        raise InventoryError(f"{where}: not a JSON object")
    return document


class ImageSource(ABC):
    """Where an image's manifests and blobs come from."""

    description: str

    @abstractmethod
    def root(self) -> tuple[dict[str, Any], str | None]:
        """The top document (an index or a manifest) and its digest when it has one
        (``index.json`` of a layout has none)."""

    @abstractmethod
    def manifest(self, digest: str) -> dict[str, Any]:
        """A manifest or index by digest, verified."""

    @abstractmethod
    def layer(self, digest: str) -> Layer:
        """A layer blob, checked against its digest as it is read."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release what the source holds (open archives, downloaded blobs)."""


class _BlobStoreSource(ImageSource):
    """Shared by layouts and archives: ``index.json`` plus ``blobs/<alg>/<hex>``."""

    @abstractmethod
    def _open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """Open the file ``name`` (relative to the layout root)."""

    def _read(self, name: str, limit: int) -> bytes:
        with self._open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InventoryError(f"{self.description}: {name} is larger than {limit} bytes")
        return data

    @staticmethod
    def _blob_name(digest: str) -> str:
        return "blobs/" + _checked(digest).replace(":", "/")

    def root(self) -> tuple[dict[str, Any], str | None]:
        where = f"{self.description}: index.json"
        return _json(self._read("index.json", MAX_MANIFEST), where), None

    def manifest(self, digest: str) -> dict[str, Any]:
        data = self._read(self._blob_name(digest), MAX_MANIFEST)
        if not _digest_of(data, digest):
            raise InventoryError(f"{self.description}: blob {digest} does not match its digest")
        return _json(data, f"{self.description}: {digest}")

    def layer(self, digest: str) -> Layer:
        name = self._blob_name(digest)
        return Layer(digest, lambda: self._open(name))


class LayoutSource(_BlobStoreSource):
    """An OCI image layout directory."""

    def __init__(self, root: Path) -> None:
        self.path = root
        self.description = str(root)

    @contextmanager
    def _open(self, name: str) -> Iterator[BinaryIO]:
        try:
            f = open(self.path / name, "rb")
        except FileNotFoundError:
            raise InventoryError(f"{self.description}: {name} is missing") from None
        except OSError as e:
            raise InventoryError(f"{self.description}: {name}: {e.strerror}") from e
        with f:
            yield f


class _TarFile:
    """The regular members of a tar file (links followed), read in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:*")
            members = {normalize(m.name): m for m in self._tar.getmembers()}
        except (tarfile.TarError, OSError, EOFError) as e:
            raise InventoryError(f"{path}: not a readable tar archive ({e})") from e
        self.members: dict[str, tarfile.TarInfo] = {}
        for name, member in members.items():
            target: tarfile.TarInfo | None = member
            # docker save links a layer shared by two images to the first copy.
            for _ in range(8):
                if target is None or not (target.issym() or target.islnk()):
                    break
                base = posixpath.dirname(name) if target.issym() else ""
                target = members.get(normalize(posixpath.join(base, target.linkname)))
            if target is not None and target.isreg():
                self.members[name] = target

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        member = self.members.get(normalize(name))
        if member is None:
            raise InventoryError(f"{self.path}: {name} is missing from the archive")
        extracted = self._tar.extractfile(member)
        assert extracted is not None  # regular members always extract
        return nullcontext(cast(BinaryIO, extracted))

    def close(self) -> None:
        self._tar.close()


class ArchiveSource(_BlobStoreSource):
    """An oci-archive: an OCI layout in one tar file, read in place."""

    def __init__(self, tar: _TarFile) -> None:
        self.description = str(tar.path)
        self._tar = tar

    def _open(self, name: str) -> AbstractContextManager[BinaryIO]:
        return self._tar.open(name)

    def close(self) -> None:
        self._tar.close()


class DockerArchiveSource(ImageSource):
    """A docker-archive (``docker save``, ``podman save``): ``manifest.json`` lists each
    image's config and layer tars. It holds no manifest, so its images are presented as
    manifests made up from the configs; their layers are checked against the config's
    ``diff_ids`` (the SHA256 of the uncompressed tars that such archives store)."""

    def __init__(self, tar: _TarFile) -> None:
        self.description = str(tar.path)
        self._tar = tar
        with tar.open("manifest.json") as f:
            data = f.read(MAX_MANIFEST)
        try:
            listing = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InventoryError(f"{self.description}: manifest.json: not JSON ({e})") from e
        if not isinstance(listing, list) or not all(isinstance(i, dict) for i in listing):
            raise InventoryError(f"{self.description}: manifest.json is not a list of images")
        self._images: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, str] = {}
        self.tags: dict[str, list[str]] = {}
        for item in listing:
            config_name, layers = item.get("Config"), item.get("Layers")
            if not isinstance(config_name, str) or not isinstance(layers, list):
                raise InventoryError(
                    f"{self.description}: manifest.json entry without Config and Layers"
                )
            with tar.open(config_name) as f:
                config_bytes = f.read(MAX_MANIFEST)
            config = _json(config_bytes, f"{self.description}: {config_name}")
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(layers):
                raise InventoryError(
                    f"{self.description}: {config_name}: "
                    f"{len(diff_ids)} diff_ids for {len(layers)} layers"
                )
            key = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
            digests = []
            for name, diff_id in zip(layers, diff_ids, strict=True):
                blob = re.fullmatch(r"blobs/(sha256)/([0-9a-f]{64})", normalize(str(name)))
                digest = f"{blob[1]}:{blob[2]}" if blob else _checked(str(diff_id))
                self._layers[digest] = str(name)
                digests.append({"digest": digest})
            self._images[key] = {
                "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": IMAGE_CONFIG_TYPES[1], "digest": key},
                "layers": digests,
                "platform": {
                    "os": config.get("os", ""),
                    "architecture": config.get("architecture", ""),
                    "variant": config.get("variant", ""),
                },
            }
            self.tags[key] = [str(t) for t in item.get("RepoTags") or []]

    def root(self) -> tuple[dict[str, Any], str | None]:
        entries = [
            {"mediaType": DOCKER_MANIFEST, "digest": key, "platform": image["platform"]}
            for key, image in self._images.items()
        ]
        return {"mediaType": DOCKER_LIST, "manifests": entries}, None

    def manifest(self, digest: str) -> dict[str, Any]:
        return self._images[digest]

    def layer(self, digest: str) -> Layer:
        name = self._layers[digest]
        return Layer(digest, lambda: self._tar.open(name))

    def close(self) -> None:
        self._tar.close()


def open_archive(path: Path) -> ImageSource:
    """An oci-archive or, when the tar has no ``index.json``, a docker-archive."""
    tar = _TarFile(path)
    if "index.json" in tar.members:
        return ArchiveSource(tar)
    if "manifest.json" in tar.members:
        return DockerArchiveSource(tar)
    tar.close()
    raise InventoryError(
        f"{path}: neither an OCI archive nor a docker-archive (no index.json "
        "or manifest.json in the tar)"
    )


class RegistrySource(ImageSource):
    """An image in a registry, pulled over the distribution API; layers are downloaded
    (verified, to a private temp directory) before they are read."""

    def __init__(self, reference: str, *, reporter: Reporter = NULL_REPORTER) -> None:
        # Imported here: httpx costs a tenth of a second that local scans need not pay.
        from zerocve.oci.registry import RegistryClient

        self.reference = parse_reference(reference)
        self.description = str(self.reference)
        self._reporter = reporter
        self._client = RegistryClient(self.reference.api_host)
        self._tmp = tempfile.TemporaryDirectory(prefix="zerocve-pull-")

    def _get(self, reference: str) -> tuple[dict[str, Any], str]:
        from zerocve.oci.registry import MANIFEST_MEDIA_TYPES

        try:
            fetched = self._client.get_manifest(
                self.reference.repository, reference, accept=MANIFEST_MEDIA_TYPES
            )
        except RegistryError as e:
            raise InventoryError(f"{self.description}: {e.diagnostics()}") from e
        document = _json(fetched.body, f"{self.description}: manifest {reference}")
        # Docker schema 2 documents carry their media type; an OCI one may omit it.
        document.setdefault("mediaType", fetched.media_type)
        return document, fetched.digest

    def root(self) -> tuple[dict[str, Any], str | None]:
        return self._get(self.reference.reference)

    def manifest(self, digest: str) -> dict[str, Any]:
        return self._get(digest)[0]

    def layer(self, digest: str) -> Layer:
        path = Path(self._tmp.name) / _checked(digest).replace(":", "-")

        @contextmanager
        def open_layer() -> Iterator[BinaryIO]:
            if not path.exists():
                try:
                    self._client.download_blob(
                        self.reference.repository, digest, path, reporter=self._reporter
                    )
                except RegistryError as e:
                    raise InventoryError(f"{self.description}: {e.diagnostics()}") from e
            with open(path, "rb") as f:
                yield f

        return Layer(digest, open_layer)

    def close(self) -> None:
        self._client.close()
        self._tmp.cleanup()


@dataclass(frozen=True)
class SelectedImage:
    digest: str | None  # the manifest's digest (None only for a bare manifest without one)
    manifest: dict[str, Any]
    layers: tuple[Layer, ...]


def _candidates(
    source: ImageSource,
    document: dict[str, Any],
    platform: Platform | None,
    ref_name: str | None,
    depth: int = 0,
) -> Iterator[tuple[str, Platform | None]]:
    """(manifest digest, declared platform) of every image manifest under an index."""
    if depth > _MAX_NESTING:
        raise InventoryError(f"{source.description}: indexes nested too deep")
    entries = document.get("manifests")
    if not isinstance(entries, list):
        raise InventoryError(f"{source.description}: index has no 'manifests' list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            raise InventoryError(f"{source.description}: index entry without a digest")
        annotations = entry.get("annotations") or {}
        if depth == 0 and ref_name is not None and annotations.get(REF_NAME) != ref_name:
            continue
        media_type = entry.get("mediaType", "")
        if media_type in INDEX_TYPES:
            nested = source.manifest(entry["digest"])
            yield from _candidates(source, nested, platform, None, depth + 1)
        elif media_type in MANIFEST_TYPES:
            yield entry["digest"], Platform.from_json(entry.get("platform"))


def _is_image(manifest: dict[str, Any]) -> bool:
    config = manifest.get("config")
    return isinstance(config, dict) and config.get("mediaType") in IMAGE_CONFIG_TYPES


def select_image(
    source: ImageSource, *, platform: str | None = None, ref_name: str | None = None
) -> SelectedImage:
    """The image manifest for ``platform`` (default linux/amd64 when several are offered)."""
    wanted = Platform.parse(platform) if platform else None
    document, digest = source.root()
    media_type = document.get("mediaType", "")
    if media_type in MANIFEST_TYPES or ("layers" in document and "manifests" not in document):
        chosen: tuple[str | None, dict[str, Any]] = (digest, document)
    else:
        found: list[tuple[str, Platform | None, dict[str, Any]]] = []
        for candidate, declared in _candidates(source, document, wanted, ref_name):
            manifest = source.manifest(candidate)
            if _is_image(manifest):  # attestations and signatures are manifests too
                found.append((candidate, declared, manifest))
        if not found:
            what = f"tagged {ref_name!r}" if ref_name else "at all"
            raise InventoryError(f"{source.description}: no image manifest {what}")
        request = wanted or Platform.parse(DEFAULT_PLATFORM)
        matching = [f for f in found if f[1] is None or request.matches(f[1])]
        if len(found) == 1 and (wanted is None or matching):
            matching = found
        if not matching:
            offered = ", ".join(sorted({str(f[1]) for f in found if f[1] is not None}))
            raise InventoryError(
                f"{source.description}: no image for platform {request} (offered: {offered}); "
                "choose one with --platform"
            )
        chosen = (matching[0][0], matching[0][2])
    manifest = chosen[1]
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and isinstance(layer.get("digest"), str) for layer in layers
    ):
        raise InventoryError(f"{source.description}: manifest {chosen[0]} has no valid 'layers'")
    return SelectedImage(
        chosen[0], manifest, tuple(source.layer(layer["digest"]) for layer in layers)
    )


__all__ = [
    "DEFAULT_PLATFORM",
    "ArchiveSource",
    "DockerArchiveSource",
    "ImageSource",
    "LayoutSource",
    "Platform",
    "RegistrySource",
    "SelectedImage",
    "open_archive",
    "select_image",
]
