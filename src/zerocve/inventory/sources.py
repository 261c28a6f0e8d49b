"""An image in a registry as an ``ImageSource``, pulled over the distribution API (layouts
and archives are read by ``zerocve.oci.reader``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from zerocve.oci.media_types import MANIFEST_MEDIA_TYPES, MAX_MANIFEST
from zerocve.oci.reader import BlobSource, ImageSource, checked_digest, parse_json
from zerocve.oci.reference import parse_reference
from zerocve.progress import NULL_REPORTER, Reporter

if TYPE_CHECKING:
    from zerocve.oci.registry import RegistryClient

RegistryFactory = Callable[[str], "RegistryClient"]
"""Makes the client for a registry host (``HOST[:PORT]``): credentials, transport."""


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

    def layer(self, digest: str, size: int) -> BlobSource:
        path = Path(self._tmp.name) / checked_digest(digest, self.description).replace(":", "-")

        @contextmanager
        def open_layer() -> Iterator[BinaryIO]:
            if not path.exists():
                self._client.download_blob(
                    self.reference.repository, digest, path, size, reporter=self._reporter
                )
            with open(path, "rb") as f:
                yield f

        return BlobSource(digest, open_layer)

    def close(self) -> None:
        self._client.close()
        self._tmp.cleanup()


__all__ = ["RegistryFactory", "RegistrySource"]
