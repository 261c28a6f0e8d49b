"""Push an OCI image layout to a registry so that the tag never points at a partial image.

Order: every blob (HEAD first, skipped when present; cross-repository mount when a source
repository is given; upload otherwise, monolithic up to ``chunk_threshold`` bytes and chunked
above), then each platform manifest BY DIGEST, then the image index by digest, and only at
the very end the tag. A failure at any step leaves the tag as it was: absent, or pointing at
the previous complete image. Manifests pushed by digest before a failure are harmless (they
are untagged and complete in the sense that all their blobs were accepted first).

The layout is read (by ``zerocve.oci.reader``) as any tool writes it (zerocve build, skopeo,
umoci): ``index.json`` names the image; with several images in it, the one whose
``org.opencontainers.image.ref.name`` equals the target tag is pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zerocve.errors import ImageError, UsageError
from zerocve.oci.media_types import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
)
from zerocve.oci.reader import Descriptor, LayoutReader, open_layout
from zerocve.oci.reference import Reference
from zerocve.oci.registry import RegistryClient
from zerocve.progress import NULL_REPORTER, Reporter

CHUNK_THRESHOLD = 16 << 20
"""Blobs up to this size go up in one PUT; larger ones in ``CHUNK_SIZE`` PATCH requests.
Either way a failed attempt starts the upload over, from a new session."""
CHUNK_SIZE = 8 << 20

_INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)


@dataclass(frozen=True)
class Pushed:
    """What a push did: the top digest, and the blobs it uploaded (and their bytes) or found
    already there (present, mounted, or foreign layers that live at their URLs)."""

    digest: str
    bytes_pushed: int
    blobs_pushed: int
    blobs_skipped: int


class _Pusher:
    def __init__(
        self,
        layout: LayoutReader,
        repo: str,
        client: RegistryClient,
        reporter: Reporter,
        from_repo: str | None,
        chunk_threshold: int,
        chunk_size: int,
    ) -> None:
        self.layout = layout
        self.repo = repo
        self.client = client
        self.reporter = reporter
        self.from_repo = from_repo
        self.chunk_threshold = chunk_threshold
        self.chunk_size = chunk_size
        self.done: set[str] = set()
        self.bytes_pushed = 0
        self.blobs_pushed = 0
        self.blobs_skipped = 0

    def blob(self, descriptor: Descriptor) -> None:
        if descriptor.digest in self.done:
            return
        if descriptor.urls:
            # A foreign (non-distributable) layer lives at its URLs, not in the registry.
            self.done.add(descriptor.digest)
            self.blobs_skipped += 1
            return
        path = self.layout.blob_path(descriptor)
        short = descriptor.digest[:19]
        if self.client.blob_exists(self.repo, descriptor.digest):
            self.reporter.note(f"{short}: already in {self.repo}")
            self.blobs_skipped += 1
        elif self.from_repo and self.client.mount_blob(
            self.repo, descriptor.digest, self.from_repo
        ):
            self.reporter.note(f"{short}: mounted from {self.from_repo}")
            self.blobs_skipped += 1
        else:
            chunked = descriptor.size > self.chunk_threshold
            self.client.upload_blob(
                self.repo,
                descriptor.digest,
                path,
                descriptor.size,
                chunk_size=self.chunk_size if chunked else None,
                reporter=self.reporter,
            )
            self.blobs_pushed += 1
            self.bytes_pushed += descriptor.size
        self.done.add(descriptor.digest)

    def document(self, descriptor: Descriptor) -> bytes:
        """Push everything ``descriptor`` refers to, then the document itself by digest."""
        where = str(self.layout.blob_path(descriptor))
        body, document = self.layout.document(descriptor.digest)
        if descriptor.media_type in _INDEXES:
            children = document.get("manifests")
            if not isinstance(children, list):
                raise ImageError(f"{where}: index without a manifests list")
            for i, child in enumerate(children):
                self.document(Descriptor.parse(child, f"{where}: manifests[{i}]"))
        elif descriptor.media_type in _MANIFESTS:
            self.blob(Descriptor.parse(document.get("config"), f"{where}: config"))
            layers = document.get("layers")
            if not isinstance(layers, list):
                raise ImageError(f"{where}: manifest without a layers list")
            for i, layer in enumerate(layers):
                self.blob(Descriptor.parse(layer, f"{where}: layers[{i}]"))
        else:
            raise ImageError(f"{where}: cannot push media type {descriptor.media_type!r}")
        if descriptor.digest not in self.done:
            self.client.put_manifest(self.repo, descriptor.digest, body, descriptor.media_type)
            self.done.add(descriptor.digest)
        return body


def push_layout(
    layout_dir: Path,
    ref: Reference,
    client: RegistryClient,
    *,
    reporter: Reporter = NULL_REPORTER,
    from_repo: str | None = None,
    chunk_threshold: int = CHUNK_THRESHOLD,
    chunk_size: int = CHUNK_SIZE,
) -> Pushed:
    """Push the image of the OCI layout at ``layout_dir`` to ``ref`` through ``client``
    (which must talk to ``ref.api_host``); ``Pushed.digest`` is its top manifest or index.

    ``from_repo``: a repository on the same registry likely to hold the blobs already (an
    earlier version of the image); blobs missing from ``ref``'s repository are mounted from it
    instead of uploaded. If ``ref`` carries a digest, it must be the layout image's digest.
    The tag, if any, is written last.
    """
    layout = open_layout(Path(layout_dir))
    top = layout.top(ref.tag)
    if ref.digest and ref.digest != top.digest:
        raise UsageError(f"{ref}: the layout's image is {top.digest}, not {ref.digest}")
    pusher = _Pusher(
        layout, ref.repository, client, reporter, from_repo, chunk_threshold, chunk_size
    )
    body = pusher.document(top)
    if ref.tag:
        client.put_manifest(ref.repository, ref.tag, body, top.media_type)
    return Pushed(top.digest, pusher.bytes_pushed, pusher.blobs_pushed, pusher.blobs_skipped)
