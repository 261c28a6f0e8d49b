"""A reverse proxy on 127.0.0.1 in front of a real registry, injecting faults on demand.

``FaultProxy(upstream, rule)``: each request is shown to ``rule(method, path, seen)``, where
``seen`` counts earlier requests with the same method and path kind (see ``kind``); it returns
``None`` to forward, ``ANSWER_500`` to answer 500 without forwarding (``ANSWER_429``: 429
with ``Retry-After: 2``), ``DROP`` to read half
of the request body and close the connection without an answer, or ``CORRUPT`` to forward and
flip a bit of the answer's body. Every request is logged as
``(method, path, action)``. The Host header is passed through, so the registry builds its
``Location`` URLs for the proxy.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from support.loopback import LoopbackServer

ANSWER_500 = "500"
ANSWER_429 = "429"
DROP = "drop"
CORRUPT = "corrupt"
FORWARD = "forward"

Rule = Callable[[str, str, int], str | None]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def kind(path: str) -> str:
    """A request path reduced to its kind: ``/v2/<repo>/blobs/uploads/<uuid>`` → ``upload``,
    ``/v2/<repo>/blobs/<digest>`` → ``blob``, ``/v2/<repo>/manifests/<ref>`` → ``manifest``."""
    path = path.split("?", 1)[0]
    if re.search(r"/blobs/uploads/", path):
        return "upload"
    if re.search(r"/blobs/", path):
        return "blob"
    if re.search(r"/manifests/", path):
        return "manifest"
    return "other"


class FaultProxy:
    def __init__(self, upstream: str, rule: Rule | None = None) -> None:
        self.upstream = upstream
        self.rule: Rule = rule or (lambda method, path, seen: None)
        self.log: list[tuple[str, str, str]] = []
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                with proxy._lock:
                    key = (self.command, kind(self.path))
                    seen = proxy._seen[key]
                    proxy._seen[key] += 1
                    action = proxy.rule(self.command, self.path, seen) or FORWARD
                    proxy.log.append((self.command, self.path, action))
                length = int(self.headers.get("Content-Length") or 0)
                if action == DROP:
                    self.rfile.read(length // 2)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(length) if length else b""
                if action in (ANSWER_500, ANSWER_429):
                    payload = b'{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}'
                    self.send_response(int(action))
                    if action == ANSWER_429:
                        self.send_header("Retry-After", "2")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                self._forward(body, corrupt=action == CORRUPT)

            def _forward(self, body: bytes, corrupt: bool) -> None:
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    conn.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                            conn.putheader(name, value)
                    if body or self.command in ("POST", "PUT", "PATCH"):
                        conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body or None)
                    response = conn.getresponse()
                    payload = response.read()
                    if corrupt and payload:
                        payload = payload[:-1] + bytes([payload[-1] ^ 1])
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() in _HOP_BY_HOP:
                            continue
                        # HEAD answers keep the upstream length: it describes the resource.
                        if name.lower() == "content-length" and self.command != "HEAD":
                            continue
                        self.send_header(name, value)
                    if self.command != "HEAD":
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._loopback = LoopbackServer(Handler)
        self.host = self._loopback.host

    def requests(self, method: str, path_kind: str) -> list[tuple[str, str, str]]:
        """The logged requests with this method and path kind."""
        return [e for e in self.log if e[0] == method and kind(e[1]) == path_kind]

    def close(self) -> None:
        self._loopback.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
