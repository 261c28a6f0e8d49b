"""Where an image's bytes come from: an OCI layout directory, an oci-archive or
docker-archive read in place, or a registry over the distribution API."""

from __future__ import annotations

import hashlib
import posixpath
import re
import tarfile
import tempfile
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from zerocve.errors import InventoryError
from zerocve.inventory.image_fs import Layer
from zerocve.inventory.images import (
    MAX_MANIFEST,
    ImageSource,
    checked_digest,
    digest_matches,
    parse_json,
)
from zerocve.inventory.tree import normalize
from zerocve.oci.media_types import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    IMAGE_CONFIG_TYPES,
    MANIFEST_MEDIA_TYPES,
)
from zerocve.oci.reference import parse_reference
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.safe_load import LoadError, load_json

if TYPE_CHECKING:
    from zerocve.oci.registry import RegistryClient

RegistryFactory = Callable[[str], "RegistryClient"]
"""Makes the client for a registry host (``HOST[:PORT]``): credentials, transport."""


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

    def _blob_name(self, digest: str) -> str:
        return "blobs/" + checked_digest(digest, self.description).replace(":", "/")

    def root(self) -> tuple[dict[str, Any], str | None]:
        where = f"{self.description}: index.json"
        return parse_json(self._read("index.json", MAX_MANIFEST), where), None

    def manifest(self, digest: str) -> dict[str, Any]:
        data = self._read(self._blob_name(digest), MAX_MANIFEST)
        if not digest_matches(data, digest):
            raise InventoryError(f"{self.description}: blob {digest} does not match its digest")
        return parse_json(data, f"{self.description}: {digest}")

    def config(self, digest: str, size: int) -> dict[str, Any]:
        return self.manifest(digest)  # a small JSON blob in the same store, read as one

    def layer(self, digest: str, size: int) -> Layer:
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

    def _member(self, name: str) -> tarfile.TarInfo:
        member = self.members.get(normalize(name))
        if member is None:
            raise InventoryError(f"{self.path}: {name} is missing from the archive")
        return member

    def size(self, name: str) -> int:
        return self._member(name).size

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        extracted = self._tar.extractfile(self._member(name))
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
            listing = load_json(data, max_bytes=MAX_MANIFEST)
        except LoadError as e:
            raise InventoryError(e.located(f"{self.description}: manifest.json")) from e
        if not isinstance(listing, list) or not all(isinstance(i, dict) for i in listing):
            raise InventoryError(f"{self.description}: manifest.json is not a list of images")
        self._images: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
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
            config = parse_json(config_bytes, f"{self.description}: {config_name}")
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(layers):
                raise InventoryError(
                    f"{self.description}: {config_name}: "
                    f"{len(diff_ids)} diff_ids for {len(layers)} layers"
                )
            key = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
            self._configs[key] = config
            digests = []
            for name, diff_id in zip(layers, diff_ids, strict=True):
                blob = re.fullmatch(r"blobs/(sha256)/([0-9a-f]{64})", normalize(str(name)))
                if blob:
                    digest = f"{blob[1]}:{blob[2]}"
                else:
                    digest = checked_digest(str(diff_id), self.description)
                self._layers[digest] = str(name)
                digests.append({"digest": digest, "size": tar.size(str(name))})
            self._images[key] = {
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": IMAGE_CONFIG_TYPES[1], "digest": key, "size": len(config_bytes)
                },
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
        return {"mediaType": DOCKER_MANIFEST_LIST, "manifests": entries}, None

    def manifest(self, digest: str) -> dict[str, Any]:
        return self._images[digest]

    def config(self, digest: str, size: int) -> dict[str, Any]:
        return self._configs[digest]

    def layer(self, digest: str, size: int) -> Layer:
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

    def __init__(
        self,
        reference: str,
        *,
        reporter: Reporter = NULL_REPORTER,
        client: RegistryFactory | None = None,
    ) -> None:
        # Imported here: httpx costs a tenth of a second that local scans need not pay.
        from zerocve.oci.registry import RegistryClient

        self.reference = parse_reference(reference)
        self.description = str(self.reference)
        self._reporter = reporter
        self._client = (client or RegistryClient)(self.reference.api_host)
        self._tmp = tempfile.TemporaryDirectory(prefix="zerocve-pull-")

    def _get(self, reference: str) -> tuple[dict[str, Any], str]:

        # RegistryError (which names host, repository and operation) passes through as is.
        fetched = self._client.get_manifest(
            self.reference.repository, reference, accept=MANIFEST_MEDIA_TYPES
        )
        document = parse_json(fetched.body, f"{self.description}: manifest {reference}")
        # Docker schema 2 documents carry their media type; an OCI one may omit it.
        document.setdefault("mediaType", fetched.media_type)
        return document, fetched.digest

    def root(self) -> tuple[dict[str, Any], str | None]:
        return self._get(self.reference.reference)

    def manifest(self, digest: str) -> dict[str, Any]:
        return self._get(digest)[0]

    def config(self, digest: str, size: int) -> dict[str, Any]:
        checked = checked_digest(digest, self.description)
        data = self._client.get_blob(self.reference.repository, checked, min(size, MAX_MANIFEST))
        return parse_json(data, f"{self.description}: config {digest}")

    def layer(self, digest: str, size: int) -> Layer:
        path = Path(self._tmp.name) / checked_digest(digest, self.description).replace(":", "-")

        @contextmanager
        def open_layer() -> Iterator[BinaryIO]:
            if not path.exists():
                self._client.download_blob(
                    self.reference.repository, digest, path, size, reporter=self._reporter
                )
            with open(path, "rb") as f:
                yield f

        return Layer(digest, open_layer)

    def close(self) -> None:
        self._client.close()
        self._tmp.cleanup()


__all__ = [
    "ArchiveSource",
    "DockerArchiveSource",
    "LayoutSource",
    "RegistryFactory",
    "RegistrySource",
    "open_archive",
]
