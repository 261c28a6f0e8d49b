"""The one reader of images stored as files: an OCI image layout directory, an oci-archive
(the same layout in one tar) and a docker-archive (``docker save``, ``podman save``), read
in place. Scans, SBOMs, publish, the fleet and the bench scripts all read through it.

Every source is an ``ImageSource``: the top document, manifests and configs by digest
(checked against it, at most ``MAX_MANIFEST`` bytes) and layer blobs as ``BlobSource``s to
stream. Anything unreadable or malformed is an ``ImageError`` whose one line names the file (and
the blob or field in it); nothing is skipped or guessed.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

from zerocve.errors import ImageError, UsageError
from zerocve.oci.media_types import (
    ANNOTATION_REF_NAME,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    IMAGE_CONFIG_TYPES,
    MAX_MANIFEST,
)
from zerocve.safe_load import LoadError, load_json

# -- digests and documents -----------------------------------------------------------------


def digest_matches(data: bytes, digest: str) -> bool:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        return False
    return hashlib.new(algorithm, data).hexdigest() == hexdigest


def checked_digest(digest: str, where: str) -> str:
    """``digest`` when it is ``sha256:``/``sha512:`` + lowercase hex (it becomes a path);
    ``where`` names the image in the error."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not re.fullmatch(r"[0-9a-f]{64,128}", hexdigest):
        raise ImageError(f"{where}: invalid digest {digest!r}")
    return digest


def parse_json(data: bytes, where: str) -> dict[str, Any]:
    """A manifest, index or config: a JSON object of at most ``MAX_MANIFEST`` bytes."""
    try:
        document = load_json(data, max_bytes=MAX_MANIFEST)
    except LoadError as e:
        raise ImageError(e.located(where)) from e
    if not isinstance(document, dict):
        raise ImageError(f"{where}: not a JSON object")
    return document


@dataclass(frozen=True)
class Descriptor:
    """What an index or manifest says of a blob it points to."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: str) -> Descriptor:
        if not isinstance(raw, dict):
            raise ImageError(f"{where}: descriptor is not an object")
        try:
            media_type, digest, size = raw["mediaType"], raw["digest"], raw["size"]
        except KeyError as e:
            raise ImageError(f"{where}: descriptor lacks {e.args[0]!r}") from e
        if not isinstance(media_type, str):
            raise ImageError(f"{where}: descriptor mediaType is not a str")
        if not isinstance(digest, str):
            raise ImageError(f"{where}: descriptor digest is not a str")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImageError(f"{where}: descriptor size {size!r} is not a count of bytes")
        urls = raw.get("urls") or ()
        if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
            raise ImageError(f"{where}: descriptor urls is not a list of strings")
        return cls(media_type, checked_digest(digest, where), size, tuple(urls))


@dataclass(frozen=True)
class BlobSource:
    """One blob to stream (a layer): its digest and how to open its bytes. The reader of the
    bytes checks them against the digest as it goes."""

    digest: str
    open: Callable[[], AbstractContextManager[BinaryIO]]


class ImageSource(ABC):
    """Where an image's manifests and blobs come from (files here; a registry in
    ``zerocve.inventory.sources``)."""

    description: str
    # Whether layers may be read on several threads at once: each open() its own file or
    # buffer. An archive's members share one file position, so they are read one at a time.
    concurrent_reads = False

    @abstractmethod
    def root(self) -> tuple[dict[str, Any], str | None]:
        """The top document (an index or a manifest) and its digest when it has one
        (``index.json`` of a layout has none)."""

    @abstractmethod
    def manifest(self, digest: str) -> dict[str, Any]:
        """A manifest or index by digest, verified."""

    @abstractmethod
    def config(self, digest: str, size: int) -> dict[str, Any]:
        """An image config by digest, verified (read only to check a requested platform);
        ``size`` is what its descriptor declares, and no more is read."""

    @abstractmethod
    def layer(self, digest: str, size: int) -> BlobSource:
        """A layer blob, checked against its digest as it is read; ``size`` is what its
        descriptor declares (a registry sends no more)."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release what the source holds (open archives, downloaded blobs)."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# -- OCI layouts, in a directory or a tar --------------------------------------------------


class BlobStore(ImageSource):
    """An OCI layout, wherever its files are: ``index.json`` plus ``blobs/<alg>/<hex>``."""

    @abstractmethod
    def _open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """Open the file ``name`` (relative to the layout root)."""

    def _read(self, name: str, limit: int) -> bytes:
        with self._open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"{self.description}: {name} is larger than {limit} bytes")
        return data

    def blob_name(self, digest: str) -> str:
        """``blobs/<alg>/<hex>``, the file of ``digest`` relative to the layout root."""
        return "blobs/" + checked_digest(digest, self.description).replace(":", "/")

    def root(self) -> tuple[dict[str, Any], str | None]:
        where = f"{self.description}: index.json"
        return parse_json(self._read("index.json", MAX_MANIFEST), where), None

    def document(self, digest: str) -> tuple[bytes, dict[str, Any]]:
        """A manifest, index or config blob: its exact bytes (checked against ``digest``) and
        its JSON."""
        name = self.blob_name(digest)
        data = self._read(name, MAX_MANIFEST)
        if not digest_matches(data, digest):
            raise ImageError(f"{self.description}: {name} does not match its digest")
        return data, parse_json(data, f"{self.description}: {name}")

    def manifest(self, digest: str) -> dict[str, Any]:
        return self.document(digest)[1]

    def config(self, digest: str, size: int) -> dict[str, Any]:
        return self.manifest(digest)  # a small JSON blob in the same store, read as one

    def layer(self, digest: str, size: int) -> BlobSource:
        name = self.blob_name(digest)
        return BlobSource(digest, lambda: self._open(name))

    def top(self, tag: str | None = None) -> Descriptor:
        """The image ``index.json`` names: its only entry, else the one entry whose
        ``org.opencontainers.image.ref.name`` is ``tag``."""
        where = f"{self.description}: index.json"
        entries = self.root()[0].get("manifests")
        if not isinstance(entries, list) or not entries:
            raise ImageError(f"{where}: names no image")
        if len(entries) == 1:
            return Descriptor.parse(entries[0], f"{where}: manifests[0]")

        def ref_name(entry: Any) -> str | None:
            annotations = entry.get("annotations") if isinstance(entry, dict) else None
            name = annotations.get(ANNOTATION_REF_NAME) if isinstance(annotations, dict) else None
            return name if isinstance(name, str) else None

        named = [i for i, entry in enumerate(entries) if ref_name(entry) == tag]
        if len(named) != 1:
            names = sorted(ref_name(e) or "?" for e in entries)
            raise ImageError(
                f"{where}: holds {len(entries)} images (ref names: {', '.join(names)}); "
                f"exactly one must be named {tag!r} to choose it"
            )
        return Descriptor.parse(entries[named[0]], f"{where}: manifests[{named[0]}]")


class LayoutReader(BlobStore):
    """An OCI image layout directory."""

    concurrent_reads = True

    def __init__(self, root: Path) -> None:
        self.path = root
        self.description = str(root)

    @contextmanager
    def _open(self, name: str) -> Iterator[BinaryIO]:
        try:
            f = open(self.path / name, "rb")
        except FileNotFoundError:
            raise ImageError(f"{self.description}: {name} is missing") from None
        except OSError as e:
            raise ImageError(f"{self.description}: {name}: {e.strerror}") from e
        with f:
            yield f

    def blob_path(self, descriptor: Descriptor) -> Path:
        """The file holding ``descriptor``'s blob, whose size must be the declared one (a
        registry is sent it as it is)."""
        path = self.path / self.blob_name(descriptor.digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            missing = f"{path}: blob {descriptor.digest} is missing from the layout"
            raise ImageError(missing) from None
        except OSError as e:
            raise ImageError(f"{path}: cannot read: {e.strerror}") from e
        if size != descriptor.size:
            raise ImageError(f"{path}: blob is {size} bytes, its descriptor says {descriptor.size}")
        return path


class MemoryLayout(BlobStore):
    """An OCI layout held in memory as ``{relative path: bytes}`` (what
    ``zerocve.oci.layout.layout_files`` yields): an image just built, read without writing
    it out first."""

    concurrent_reads = True

    def __init__(self, files: Mapping[str, bytes], description: str) -> None:
        self.description = description
        self._files = dict(files)

    def _open(self, name: str) -> AbstractContextManager[BinaryIO]:
        data = self._files.get(normalize(name))
        if data is None:
            raise ImageError(f"{self.description}: {name} is missing")
        return nullcontext(cast(BinaryIO, io.BytesIO(data)))


def is_layout(path: Path) -> bool:
    """Whether ``path`` looks like an OCI image layout (what ``open_layout`` then reads)."""
    return (path / "oci-layout").is_file() and (path / "index.json").is_file()


def open_layout(path: Path) -> LayoutReader:
    """The OCI layout at ``path``; a UsageError (a target of the wrong kind) when it is
    none."""
    if not is_layout(path):
        raise UsageError(f"{path}: not an OCI image layout (no oci-layout or index.json)")
    return LayoutReader(path)


def normalize(name: str) -> str:
    """``/./etc//os-release`` → ``etc/os-release``: member names as tools write them (no
    resolution of ``..``)."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


class _TarFile:
    """The regular members of a tar file (links followed), read in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:*")
            members = {normalize(m.name): m for m in self._tar.getmembers()}
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ImageError(f"{path}: not a readable tar archive ({e})") from e
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
            raise ImageError(f"{self.path}: {name} is missing from the archive")
        return member

    def size(self, name: str) -> int:
        return self._member(name).size

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        extracted = self._tar.extractfile(self._member(name))
        assert extracted is not None  # regular members always extract
        return nullcontext(cast(BinaryIO, extracted))

    def close(self) -> None:
        self._tar.close()


class OciArchiveReader(BlobStore):
    """An oci-archive: an OCI layout in one tar file, read in place."""

    def __init__(self, tar: _TarFile) -> None:
        self.description = str(tar.path)
        self._tar = tar

    def _open(self, name: str) -> AbstractContextManager[BinaryIO]:
        return self._tar.open(name)

    def close(self) -> None:
        self._tar.close()


class DockerArchiveReader(ImageSource):
    """A docker-archive: ``manifest.json`` lists each image's config and layer tars. It holds
    no manifest, so its images are presented as manifests made up from the configs; their
    layers are checked against the config's ``diff_ids`` (the SHA256 of the uncompressed
    tars that such archives store). ``tags`` maps each config digest to its RepoTags."""

    def __init__(self, tar: _TarFile) -> None:
        self.description = str(tar.path)
        self._tar = tar
        with tar.open("manifest.json") as f:
            data = f.read(MAX_MANIFEST)
        try:
            listing = load_json(data, max_bytes=MAX_MANIFEST)
        except LoadError as e:
            raise ImageError(e.located(f"{self.description}: manifest.json")) from e
        if not isinstance(listing, list) or not all(isinstance(i, dict) for i in listing):
            raise ImageError(f"{self.description}: manifest.json is not a list of images")
        self._images: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, str] = {}
        self.tags: dict[str, list[str]] = {}
        for item in listing:
            self._add(item)

    def _add(self, item: dict[str, Any]) -> None:
        config_name, layers = item.get("Config"), item.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layers, list):
            raise ImageError(f"{self.description}: manifest.json entry without Config and Layers")
        with self._tar.open(config_name) as f:
            config_bytes = f.read(MAX_MANIFEST)
        config = parse_json(config_bytes, f"{self.description}: {config_name}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise ImageError(
                f"{self.description}: {config_name}: "
                f"{len(diff_ids)} diff_ids for {len(layers)} layers"
            )
        key = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        self._configs[key] = config
        digests = []
        for name, diff_id in zip(layers, diff_ids, strict=True):
            blob = re.fullmatch(r"blobs/(sha256)/([0-9a-f]{64})", normalize(str(name)))
            digest = f"{blob[1]}:{blob[2]}" if blob else checked_digest(str(diff_id),
                                                                       self.description)
            self._layers[digest] = str(name)
            digests.append({"digest": digest, "size": self._tar.size(str(name))})
        self._images[key] = {
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": IMAGE_CONFIG_TYPES[1], "digest": key,
                       "size": len(config_bytes)},
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

    def layer(self, digest: str, size: int) -> BlobSource:
        name = self._layers[digest]
        return BlobSource(digest, lambda: self._tar.open(name))

    def close(self) -> None:
        self._tar.close()


def open_archive(path: Path) -> ImageSource:
    """An oci-archive or, when the tar has no ``index.json``, a docker-archive."""
    tar = _TarFile(path)
    try:
        if "index.json" in tar.members:
            return OciArchiveReader(tar)
        if "manifest.json" in tar.members:
            return DockerArchiveReader(tar)
    except BaseException:
        tar.close()
        raise
    tar.close()
    raise ImageError(
        f"{path}: neither an OCI archive nor a docker-archive (no index.json "
        "or manifest.json in the tar)"
    )


__all__ = [
    "BlobSource",
    "BlobStore",
    "Descriptor",
    "DockerArchiveReader",
    "ImageSource",
    "LayoutReader",
    "MemoryLayout",
    "OciArchiveReader",
    "checked_digest",
    "digest_matches",
    "is_layout",
    "normalize",
    "open_archive",
    "open_layout",
    "parse_json",
]
