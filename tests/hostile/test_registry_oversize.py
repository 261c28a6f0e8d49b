"""A registry that sends more than it should: a manifest of hundreds of megabytes, a blob
longer than its descriptor says. zerocve stops reading at the bound (4 MiB for a manifest,
the declared size for a blob) and fails with one line, before the bytes reach memory or disk.

The registry is a small hostile server on 127.0.0.1 that streams its oversized answers
lazily and counts what it managed to send before zerocve hung up."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_measured

from support.loopback import LoopbackServer
from zerocve.errors import RegistryError
from zerocve.oci.media_types import MAX_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST
from zerocve.oci.registry import RegistryClient

HUGE = 256 << 20  # what the hostile registry offers: far past every bound
CHUNK = b"\0" * (64 << 10)
PEAK_LIMIT_MIB = 150  # a pull that buffered the 256 MB answer would be well above this


class HostileRegistry:
    """Serves ``/v2/evil/manifests/huge`` (an endless JSON array), ``/v2/evil/manifests/ok``
    (a valid manifest whose layer descriptor says ``LAYER_SIZE`` bytes) and every blob as
    ``HUGE`` zero bytes. ``sent_to`` tells how many body bytes went out on a path."""

    LAYER_SIZE = 1000

    def __init__(self, content_length: bool) -> None:
        self._sent: dict[str, list[int]] = {}
        self._answered = threading.Condition()
        self.layer = "sha256:" + hashlib.sha256(b"\0" * self.LAYER_SIZE).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.layer, "size": 2},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": self.layer,
                        "size": self.LAYER_SIZE}],
        }
        self.manifest = json.dumps(manifest).encode()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server spelling
                if self.path == "/v2/":
                    self._answer(b"{}", "application/json")
                elif self.path == "/v2/evil/manifests/ok":
                    self._answer(registry.manifest, OCI_MANIFEST)
                else:
                    kind = OCI_MANIFEST if "/manifests/" in self.path else "application/x"
                    self._flood(kind)

            def _answer(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _flood(self, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if content_length:
                    self.send_header("Content-Length", str(HUGE))
                else:
                    self.send_header("Connection", "close")  # the body ends when we close
                self.end_headers()
                sent = 0
                try:
                    for piece in _pieces(b"[" if "manifests" in self.path else b""):
                        self.wfile.write(piece)
                        sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    registry._record(self.path, sent)
                    self.close_connection = True

        self._loopback = LoopbackServer(Handler)
        self.host = self._loopback.host

    def _record(self, path: str, sent: int) -> None:
        with self._answered:
            self._sent.setdefault(path, []).append(sent)
            self._answered.notify_all()

    def sent_to(self, path: str, answers: int = 1) -> int:
        """The most body bytes any one answer on ``path`` sent, once ``answers`` floods there
        have ended. The server thread notices the hang-up only at its next write, which may
        come after the client has already returned, so this waits for it."""
        with self._answered:
            ended = self._answered.wait_for(lambda: len(self._sent.get(path, ())) >= answers,
                                            timeout=60)
            assert ended, f"{path}: {len(self._sent.get(path, ()))} of {answers} answers ended"
            return max(self._sent[path])

    def close(self) -> None:
        self._loopback.close()


def _pieces(first: bytes) -> Iterator[bytes]:
    yield first
    for _ in range(HUGE // len(CHUNK)):
        yield CHUNK


@pytest.fixture(params=[True, False], ids=["content-length", "no-length"])
def hostile(request: pytest.FixtureRequest) -> Iterator[HostileRegistry]:
    server = HostileRegistry(content_length=request.param)
    yield server
    server.close()


def test_huge_manifest_is_refused_cheaply(hostile: HostileRegistry, tracker_db: Path) -> None:
    done, peak = run_measured("scan", f"{hostile.host}/evil:huge", "--db", str(tracker_db))
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3
    line = one_error_line(done)
    assert f"{hostile.host}/evil: get manifest huge: manifest is larger than" in line
    assert hostile.sent_to("/v2/evil/manifests/huge") < HUGE


def test_manifest_read_stops_at_the_cap(hostile: HostileRegistry) -> None:
    with RegistryClient(hostile.host, retries=0) as client:
        with pytest.raises(RegistryError, match=f"larger than {MAX_MANIFEST} bytes"):
            client.get_manifest("evil", "huge")


def test_blob_longer_than_its_descriptor_stops_there(
    hostile: HostileRegistry, tmp_path: Path
) -> None:
    dest = tmp_path / "blobs" / "layer"
    with RegistryClient(hostile.host, retries=0) as client:
        with pytest.raises(RegistryError, match=r"blob sha256:[0-9a-f]+ is larger than 1000"):
            client.download_blob("evil", hostile.layer, dest, hostile.LAYER_SIZE)
        with pytest.raises(RegistryError, match="is larger than 2 bytes"):
            client.get_blob("evil", hostile.layer, 2)
    assert list(dest.parent.iterdir()) == []  # not even a temp file of the excess is left
    # Only what fits in the socket buffers went out before zerocve hung up.
    assert hostile.sent_to(f"/v2/evil/blobs/{hostile.layer}", answers=2) < 16 << 20


def test_scan_pull_stops_at_the_descriptor_size(hostile: HostileRegistry,
                                                tracker_db: Path) -> None:
    done, peak = run_measured("scan", f"{hostile.host}/evil:ok", "--db", str(tracker_db))
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3
    assert "is larger than 1000 bytes" in one_error_line(done)
    assert hostile.sent_to(f"/v2/evil/blobs/{hostile.layer}") < 16 << 20
