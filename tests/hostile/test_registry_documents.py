"""A registry that answers with documents of the wrong shape: a manifest that is a JSON list,
an index entry whose size is text, a referrers index without a manifests list. `zerocve
verify` and `zerocve sbom` refuse each with one line, exit 3, never a crash (exit 4).

The registry is a small hostile server on 127.0.0.1 that serves fixed bodies by path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hostile_kit import one_error_line

from support.loopback import LoopbackServer
from support.signing import KeyPair, make_key_pair, zerocve
from zerocve.oci.media_types import OCI_INDEX, OCI_MANIFEST
from zerocve.oci.registry import compute_digest

MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "1" * 64, "size": 2},
    "layers": [],
}).encode()
DOCUMENTS: dict[str, tuple[bytes, str]] = {
    "list": (b"[]", OCI_MANIFEST),
    "text-size": (json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": compute_digest(MANIFEST),
                       "size": "big"}],
    }).encode(), OCI_INDEX),
    "ok": (MANIFEST, OCI_MANIFEST),
}


class ShapelessRegistry:
    """Serves ``/v2/evil/manifests/<name>`` from ``DOCUMENTS`` (and by digest), and a
    referrers index of every digest that is a JSON object without ``manifests``."""

    def __init__(self) -> None:
        served = {**DOCUMENTS, **{compute_digest(b): (b, t) for b, t in DOCUMENTS.values()}}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - the http.server spelling
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                name = self.path.rpartition("/")[2]
                if self.path == "/v2/":
                    self._answer(b"{}", "application/json")
                elif "/referrers/" in self.path:
                    self._answer(b'{"schemaVersion": 2}', OCI_INDEX)
                elif "/manifests/" in self.path and name in served:
                    self._answer(*served[name])
                else:
                    self._answer(b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}',
                                 "application/json", 404)

            def _answer(self, body: bytes, kind: str, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status == 200:
                    self.send_header("Docker-Content-Digest", compute_digest(body))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self._loopback = LoopbackServer(Handler)
        self.host = self._loopback.host

    def close(self) -> None:
        self._loopback.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_key_pair(tmp_path_factory.mktemp("keys"), "cosign")


@pytest.fixture
def shapeless() -> Iterator[ShapelessRegistry]:
    server = ShapelessRegistry()
    yield server
    server.close()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("list", r"/evil:list@sha256:[0-9a-f]{64}: manifest is not a JSON object$"),
        ("text-size", r"/evil:text-size@sha256:[0-9a-f]{64}: manifests\[0\]: descriptor size "
                      r"'big' is not a count of bytes$"),
    ],
)
def test_verify_refuses_a_shapeless_manifest(
    name: str, message: str, shapeless: ShapelessRegistry, keys: KeyPair, tmp_path: Path
) -> None:
    done = zerocve("verify", f"{shapeless.host}/evil:{name}", "--key", str(keys.public),
                   home=tmp_path)
    assert done.returncode == 3, done.stderr
    line = one_error_line(done)
    assert re.search(message, line), line


def test_sbom_refuses_a_referrers_index_without_manifests(
    shapeless: ShapelessRegistry, tmp_path: Path
) -> None:
    done = zerocve("sbom", f"{shapeless.host}/evil:ok", home=tmp_path)
    assert done.returncode == 3, done.stderr
    assert one_error_line(done).endswith("no 'manifests' list"), done.stderr
