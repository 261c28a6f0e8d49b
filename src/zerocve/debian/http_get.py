"""GET requests on the standard library's ``http.client``, for the repository fetcher.

What it does, as httpx did for it before: keep-alive connections kept per thread (never one
shared between threads), redirects followed (at most ``MAX_REDIRECTS``; a loop is refused at
once), connect and read timeouts, the environment's proxies as ``zerocve.settings`` reads
them (``http_proxy``, ``https_proxy``, ``all_proxy``, ``no_proxy``; https by CONNECT), TLS
verified against the system's trust store (OpenSSL itself honours ``SSL_CERT_FILE`` and
``SSL_CERT_DIR``), basic auth from a URL's user info or else from apt's login files
(``zerocve.debian.apt_auth``), and a body that ends before its Content-Length detected.
Failures worth another attempt are ``Transient``, described with httpx's names
(``ConnectError: ...``), so the one-line errors read as before; ``Refused`` is the rest. No
message names a URL with its user info (``redacted``).

Unlike httpx it asks for no content coding (``Accept-Encoding: identity``, as apt) and decodes
none: callers hash the bytes as served, and a server that labels ``Packages.gz`` as
``Content-Encoding: gzip`` still hands over the file the Release lists.
"""

from __future__ import annotations

import functools
import http.client
import select
import ssl
import threading
import weakref
from base64 import b64encode
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from zerocve.debian.apt_auth import NO_LOGINS, AptLogins
from zerocve.debian.http import redacted
from zerocve.retry import Transient

MAX_REDIRECTS = 20  # httpx's default
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 1 << 16
USER_AGENT = "zerocve"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """A request that another attempt would not mend: a bad URL or proxy, a redirect loop."""


class _Stale(Transient):
    """The server hung up before answering: on a kept connection, it may have closed it
    while idle."""


@dataclass(frozen=True)
class Target:
    """Where a URL points: scheme, host, port, the request path, and its user info."""

    scheme: str
    host: str
    port: int
    path: str
    auth: str = ""  # the value of an Authorization header, from user:password@

    @classmethod
    def of(cls, url: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise Refused(f"invalid URL: {e}") from e
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise Refused(f"unsupported URL {redacted(url)!r}: only http:// and https:// are "
                          "fetched")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        auth = ""
        if parts.username is not None or parts.password is not None:
            auth = _basic(unquote(parts.username or ""), unquote(parts.password or ""))
        return cls(scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], path, auth)

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def absolute(self) -> str:
        """The URL without user info: the request line sent to an http proxy."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    auth: str  # Proxy-Authorization value, or ""


@dataclass(frozen=True)
class Answer:
    """A response: status, headers (case-insensitive) and the body as chunks of up to
    ``CHUNK`` bytes, valid inside ``Client.get``'s block."""

    status_code: int
    reason_phrase: str
    headers: http.client.HTTPMessage
    chunks: Iterator[bytes] = field(compare=False)


def _basic(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode("ascii")


def _proxy(url: str) -> Proxy:
    if "://" not in url:  # as httpx: "proxy:3128" means http://proxy:3128
        url = f"http://{url}"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as e:
        raise Refused(f"proxy {redacted(url)}: {e}") from e
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise Refused(f"proxy {redacted(url)}: only http:// proxies are supported")
    auth = ""
    if parts.username is not None:
        auth = _basic(unquote(parts.username), unquote(parts.password or ""))
    return Proxy(parts.hostname, port or 80, auth)


class Client:
    """GETs over connections kept per thread, through ``proxies`` (``(scheme, proxy URL)``
    pairs, ``no`` for the bypass list: ``Settings.proxies``, read from the environment as
    httpx's ``trust_env`` did), with ``logins`` for a URL that has no user info. ``note``
    is told of a server that answered more than it was asked. TLS's context is made by the
    first https request."""

    def __init__(
        self, timeout: float, proxies: Iterable[tuple[str, str]] = (),
        logins: AptLogins = NO_LOGINS, note: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._timeout = timeout
        self._proxies = dict(proxies)
        self._logins = logins
        self._note = note
        # .connections: {(origin, proxy): (HTTPConnection, the URL it last answered)}
        self._local = threading.local()
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def close(self) -> None:
        with self._lock:
            connections = list(self._all)
        for connection in connections:
            connection.close()

    def proxy_for(self, target: Target) -> Proxy | None:
        url = self._proxies.get(target.scheme) or self._proxies.get("all")
        if not url:
            return None
        # urllib.request costs 10 ms more than http.client: imported only when a proxy is set.
        from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

        if proxy_bypass_environment(f"{target.host}:{target.port}", self._proxies):
            return None
        return _proxy(url)

    @contextmanager
    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Iterator[Answer]:
        """The answer to GET ``url`` after its redirects. Its connection is kept for this
        thread's next request when the body was read to its end."""
        seen = {url}
        target = Target.of(url)
        for _ in range(MAX_REDIRECTS + 1):
            connection, response = self._exchange(target, headers or {})
            try:
                location = response.getheader("Location")
                if response.status not in REDIRECTS or location is None:
                    overran = functools.partial(self._overran, connection, target.absolute)
                    yield Answer(response.status, response.reason, response.msg,
                                 _body(response, overran))
                    return
            finally:
                if not response.isclosed():  # not read to its end: the connection is spent
                    connection.close()
            url = urljoin(url, location.strip())
            if url in seen:
                raise Refused(f"redirect loop at {redacted(url)}")
            seen.add(url)
            following = Target.of(url)
            # As httpx: the URL's credentials go on to the same origin, or to its https
            # upgrade (apt's login files are looked up afresh for each URL).
            keep = following.origin == target.origin or (
                following.host == target.host
                and (target.scheme, target.port, following.scheme, following.port)
                == ("http", 80, "https", 443))
            target = Target(*following.origin, following.path, target.auth if keep else "")
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def _exchange(
        self, target: Target, headers: Mapping[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        proxy = self.proxy_for(target)
        connections = self._connections()
        key = (target.origin, proxy)
        kept = connections.get(key)
        if kept is None:
            connection = self._connection(target, proxy)
        else:
            connection, last = kept
            unasked = _unasked(connection)
            if unasked is not None:  # the server hung up, or sent what nobody asked for
                connection.close()
                # Some servers say "408 Request Timeout" before they close an idle connection.
                if unasked and not unasked.startswith(b"HTTP/"):
                    self._overran(connection, last)
        connections[key] = (connection, target.absolute)
        reused = connection.sock is not None
        try:
            return connection, self._send(connection, target, proxy, headers)
        except _Stale:
            connection.close()
            if not reused:
                raise
        except BaseException:
            connection.close()
            raise
        # A kept connection the server had closed meanwhile: one fresh try, as browsers do.
        try:
            return connection, self._send(connection, target, proxy, headers)
        except BaseException:
            connection.close()
            raise

    def _overran(self, connection: http.client.HTTPConnection, url: str) -> None:
        """The answer from ``url`` was followed by bytes nobody asked for: they may be seen
        with its last byte or only later, before the next request, so either way that
        answer stands (every body is checked by its hash or signature) and the connection
        is dropped, never trusted to frame another answer."""
        connection.close()
        self._note(f"{url}: the server sent more than the Content-Length it announced; "
                   "that connection is not used again")

    def _connections(self) -> dict[object, tuple[http.client.HTTPConnection, str]]:
        try:
            return self._local.connections  # type: ignore[no-any-return]
        except AttributeError:
            self._local.connections = {}
            return self._local.connections  # type: ignore[no-any-return]

    def _context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:  # the trust store is read once, when first needed
                self._tls = ssl.create_default_context()
            return self._tls

    def _connection(self, target: Target, proxy: Proxy | None) -> http.client.HTTPConnection:
        host, port = (proxy.host, proxy.port) if proxy else (target.host, target.port)
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._context())
            if proxy:
                tunnel = {"Proxy-Authorization": proxy.auth} if proxy.auth else None
                connection.set_tunnel(target.host, target.port, headers=tunnel)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        with self._lock:
            self._all.add(connection)
        return connection

    def _send(
        self, connection: http.client.HTTPConnection, target: Target, proxy: Proxy | None,
        headers: Mapping[str, str],
    ) -> http.client.HTTPResponse:
        if connection.sock is None:
            _connect(connection, proxy)
        via_proxy = proxy is not None and target.scheme == "http"
        try:
            connection.putrequest("GET", target.absolute if via_proxy else target.path,
                                  skip_accept_encoding=True)
            connection.putheader("User-Agent", USER_AGENT)
            connection.putheader("Accept", "*/*")
            connection.putheader("Accept-Encoding", "identity")
            authorization = target.auth or self._logins.authorization(
                target.scheme, target.host, target.port, target.path)
            if authorization:
                connection.putheader("Authorization", authorization)
            if via_proxy and proxy is not None and proxy.auth:
                connection.putheader("Proxy-Authorization", proxy.auth)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            return connection.getresponse()
        except http.client.RemoteDisconnected as e:
            raise _Stale(f"RemoteProtocolError: {e}") from e
        except (ConnectionResetError, BrokenPipeError) as e:
            raise _Stale(f"ReadError: {e}") from e
        except TimeoutError as e:
            raise Transient(f"ReadTimeout: {e}") from e
        except http.client.HTTPException as e:
            raise Transient(f"RemoteProtocolError: {e or type(e).__name__}") from e
        except OSError as e:
            raise Transient(f"ReadError: {e}") from e


def _connect(connection: http.client.HTTPConnection, proxy: Proxy | None) -> None:
    try:
        connection.connect()
    except TimeoutError as e:
        raise Transient(f"ConnectTimeout: {e}") from e
    except OSError as e:
        # http.client says a refused CONNECT as "Tunnel connection failed: 407 ...".
        tunnel = proxy is not None and str(e).startswith("Tunnel connection failed")
        if tunnel and str(e).startswith("Tunnel connection failed: 407"):
            # The proxy wants other credentials: the same ones again would not become right.
            raise Refused(f"ProxyError: {e}") from e
        raise Transient(f"{'ProxyError' if tunnel else 'ConnectError'}: {e}") from e


def _unasked(connection: http.client.HTTPConnection) -> bytes | None:
    """What a kept connection holds while idle: None when nothing (it is fit to send on),
    b"" when the server hung up, else the first bytes it sent unasked. Those are read, not
    peeked at: the connection is closed either way."""
    sock = connection.sock
    if sock is None:
        return None  # http.client connects it again
    if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return b""
        if not readable:
            return None
    try:
        sock.setblocking(False)
        return sock.recv(5)
    except OSError:  # reset, or a TLS record not yet whole: nothing to tell of
        return b""


def _body(response: http.client.HTTPResponse, overran: Callable[[], None]) -> Iterator[bytes]:
    """The body in chunks of up to ``CHUNK`` bytes; one cut short is ``Transient``; one
    followed by more bytes than its Content-Length announced calls ``overran`` before its
    last chunk is handed over."""
    try:
        if response.length is None:  # chunked (framing checked by http.client), or to close
            while chunk := response.read(CHUNK):
                yield chunk
            return
        remaining = total = response.length
        while remaining:
            # The last byte is read after a look at what is buffered beyond it: bytes there
            # would be dropped with the buffer, unseen, and the connection kept.
            want = min(CHUNK, remaining - 1) if remaining > 1 else 1
            beyond = remaining == 1 and response.fp is not None and len(response.fp.peek(2)) > 1
            chunk = response.read(want)
            if not chunk:
                raise Transient(
                    "RemoteProtocolError: peer closed connection without sending complete "
                    f"message body: received {total - remaining} bytes, expected {total}")
            remaining -= len(chunk)
            if beyond:
                overran()
            yield chunk
    except TimeoutError as e:
        raise Transient(f"ReadTimeout: {e}") from e
    except http.client.IncompleteRead as e:
        raise Transient("RemoteProtocolError: peer closed connection without sending "
                        f"complete message body: {e!r}") from e
    except http.client.HTTPException as e:
        raise Transient(f"RemoteProtocolError: {e or type(e).__name__}") from e
    except OSError as e:
        raise Transient(f"ReadError: {e}") from e
