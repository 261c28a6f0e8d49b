"""Real HTTP servers on 127.0.0.1 for the repository fetcher's tests.

``WebServer(root)`` serves a directory over HTTP/1.1 with keep-alive and records every request
with the client port it came on; ``routes[path]`` replaces the answer to a path with a
function of the handler (``redirect``, ``answer``, ``raw``, ``sequence`` make the usual ones,
including answers no honest server gives). ``ForwardingProxy`` is an http proxy that forwards
absolute-URI GETs and tunnels CONNECT, recording what it was asked. ``tls_files`` makes a
self-signed certificate for 127.0.0.1.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from support.loopback import LoopbackServer

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Seen:
    path: str
    port: int  # the client's port: one port, one connection
    headers: dict[str, str]


class WebServer:
    """With ``require`` (an Authorization value), every request without it is answered 401."""

    def __init__(
        self, root: Path, tls: ssl.SSLContext | None = None, require: str | None = None
    ) -> None:
        self.requests: list[Seen] = []
        self.routes: dict[str, Route] = {}
        server = self

        class Handler(SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(
                    Seen(self.path, self.client_address[1], dict(self.headers.items())))
                route = server.routes.get(self.path)
                if require is not None and self.headers.get("Authorization") != require:
                    answer(401, b"who?", {"WWW-Authenticate": 'Basic realm="apt"'})(self)
                elif route is not None:
                    route(self)
                else:
                    super().do_GET()

        self._server = LoopbackServer(Handler, tls)
        self.uri = f"{'https' if tls else 'http'}://{self._server.host}"

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def close(self) -> None:
        self._server.close()


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return answer(status, b"moved", {"Location": location})


def raw(data: bytes, *, delay: float = 0.0, close: bool = True) -> Route:
    """Sends ``data`` as the whole answer (status line and all) after ``delay`` seconds, then
    hangs up (or keeps the connection when ``close`` is false)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        handler.wfile.write(data)
        handler.wfile.flush()
        handler.close_connection = close

    return route


def sequence(routes: Sequence[Route], then: Route | None = None) -> Route:
    """The next of ``routes`` for each request, then ``then`` (default: the file)."""
    pending = list(routes)

    def route(handler: BaseHTTPRequestHandler) -> None:
        if pending:
            pending.pop(0)(handler)
        elif then is not None:
            then(handler)
        else:
            SimpleHTTPRequestHandler.do_GET(handler)  # type: ignore[arg-type]

    return route


class ForwardingProxy:
    """An http proxy on 127.0.0.1: GET with an absolute URI is forwarded, CONNECT is tunnelled.
    ``asked`` lists ``(method, target)`` of each request, ``credentials`` the
    Proxy-Authorization it came with (or None); with ``require``, a request without that
    value is answered 407."""

    def __init__(self, require: str | None = None) -> None:
        self.asked: list[tuple[str, str]] = []
        self.credentials: list[str | None] = []
        proxy = self

        def refused(handler: BaseHTTPRequestHandler) -> bool:
            proxy.credentials.append(handler.headers.get("Proxy-Authorization"))
            if require is None or proxy.credentials[-1] == require:
                return False
            answer(407, b"who?", {"Proxy-Authenticate": 'Basic realm="proxy"'})(handler)
            return True

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.asked.append(("GET", self.path))
                if refused(self):
                    return
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.netloc, timeout=10)
                try:
                    upstream.request("GET", target.path or "/", headers={
                        k: v for k, v in self.headers.items()
                        if k.lower() not in ("proxy-authorization", "connection")})
                    response = upstream.getresponse()
                    body = response.read()
                finally:
                    upstream.close()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:
                proxy.asked.append(("CONNECT", self.path))
                if refused(self):
                    return
                host, port = self.path.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                _pipe(self.connection, upstream)
                self.close_connection = True

        self._server = LoopbackServer(Handler)
        self.uri = f"http://{self._server.host}"

    def close(self) -> None:
        self._server.close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copies bytes both ways until either side hangs up."""
    with b:
        while True:
            readable, _, _ = select.select([a, b], [], [], 10)
            if not readable:
                return
            for source in readable:
                data = source.recv(1 << 16)
                if not data:
                    return
                (b if source is a else a).sendall(data)


def tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def serving(root: Path) -> Iterator[WebServer]:
    """A fixture body: a ``WebServer`` over ``root`` for the test's length."""
    server = WebServer(root)
    yield server
    server.close()
