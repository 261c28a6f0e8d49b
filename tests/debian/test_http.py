"""The repository fetcher's HTTP, on the standard library, against real servers on 127.0.0.1:
redirects, validators, statuses, retries, broken framing, timeouts, kept connections, proxies
from the environment and TLS against the trust store."""

from __future__ import annotations

import gzip
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.httpkit import (
    ForwardingProxy,
    Route,
    WebServer,
    answer,
    raw,
    redirect,
    sequence,
    serving,
    tls_files,
)
from zerocve.api import repo_client
from zerocve.debian.apt_auth import read_apt_logins
from zerocve.debian.http import Fetcher, NotFound
from zerocve.errors import FetchError
from zerocve.progress import Reporter, Task
from zerocve.settings import Settings, environment_proxies

BODY = bytes(range(256)) * 1000  # 256,000 bytes: several 64 KiB chunks


@pytest.fixture
def root(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "dir").mkdir(parents=True)
    (site / "file").write_bytes(BODY)
    (site / "dir" / "small").write_bytes(b"small")
    return site


@pytest.fixture
def server(root: Path) -> Iterator[WebServer]:
    yield from serving(root)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def fetcher(waits: list[float]) -> Iterator[Fetcher]:
    f = Fetcher(retries=2, backoff=0.01, sleep=waits.append)
    yield f
    f.close()


def test_a_body_streams_in_64_kib_chunks(server: WebServer, fetcher: Fetcher) -> None:
    sizes = fetcher.fetch(f"{server.uri}/file", lambda chunks: [len(c) for c in chunks])
    assert sum(sizes) == len(BODY) and max(sizes) == 1 << 16
    assert fetcher.get_bytes(f"{server.uri}/file") == BODY
    headers = server.requests[0].headers
    assert headers["User-Agent"] == "zerocve" and headers["Accept-Encoding"] == "identity"


def test_a_body_is_handed_over_as_served_whatever_its_content_coding(
    server: WebServer, fetcher: Fetcher
) -> None:
    """A server that labels a .gz file ``Content-Encoding: gzip`` (Apache's AddEncoding) still
    hands over the bytes the Release lists: nothing is asked for, nothing decoded."""
    packed = gzip.compress(b"Package: hello\n", mtime=0)
    server.routes["/Packages.gz"] = answer(200, packed, {"Content-Encoding": "gzip"})
    assert fetcher.get_bytes(f"{server.uri}/Packages.gz") == packed


def test_relative_and_absolute_redirects(
    root: Path, server: WebServer, fetcher: Fetcher
) -> None:
    other = WebServer(root)
    try:
        server.routes["/a/b"] = redirect("../dir/small")  # relative to /a/b: /dir/small
        server.routes["/away"] = redirect(f"{other.uri}/file", 301)
        server.routes["/temp"] = redirect("/dir/small", 307)
        assert fetcher.get_bytes(f"{server.uri}/a/b") == b"small"
        assert fetcher.get_bytes(f"{server.uri}/away") == BODY
        assert fetcher.get_bytes(f"{server.uri}/temp") == b"small"
        assert server.paths() == ["/a/b", "/dir/small", "/away", "/temp", "/dir/small"]
        assert other.paths() == ["/file"]
    finally:
        other.close()


def test_a_redirect_loop_is_one_error_at_once(
    server: WebServer, fetcher: Fetcher, waits: list[float]
) -> None:
    server.routes["/one"] = redirect("/two")
    server.routes["/two"] = redirect(f"{server.uri}/one")
    with pytest.raises(FetchError) as raised:
        fetcher.get_bytes(f"{server.uri}/one")
    assert str(raised.value) == f"{server.uri}/one: redirect loop at {server.uri}/one"
    assert server.paths() == ["/one", "/two"] and waits == []


def test_twenty_redirects_are_followed_and_the_twenty_first_refused(
    server: WebServer, fetcher: Fetcher, waits: list[float]
) -> None:
    for n in range(20):
        server.routes[f"/hop/{n}"] = redirect(f"/hop/{n + 1}")
    server.routes["/hop/20"] = answer(200, b"arrived")
    assert fetcher.get_bytes(f"{server.uri}/hop/0") == b"arrived"
    assert len(server.requests) == 21

    server.requests.clear()
    server.routes["/hop/20"] = redirect("/hop/21")
    server.routes["/hop/21"] = answer(200, b"too far")
    with pytest.raises(FetchError, match=r"/hop/0: more than 20 redirects$"):
        fetcher.get_bytes(f"{server.uri}/hop/0")
    assert len(server.requests) == 21 and waits == []


def test_a_redirect_to_another_scheme_is_refused(server: WebServer, fetcher: Fetcher) -> None:
    server.routes["/ftp"] = redirect("ftp://127.0.0.1/file")
    with pytest.raises(FetchError, match="unsupported URL 'ftp://127.0.0.1/file'"):
        fetcher.get_bytes(f"{server.uri}/ftp")
    assert server.paths() == ["/ftp"]


def test_validators_and_304(server: WebServer, fetcher: Fetcher) -> None:
    def conditional(handler):  # type: ignore[no-untyped-def]
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_response(304)
            handler.send_header("ETag", '"v1"')
            handler.end_headers()
        else:
            answer(200, b"release", {"ETag": '"v1"', "Last-Modified": "Sun, 01 Nov 2026"})(
                handler)

    server.routes["/InRelease"] = conditional
    url = f"{server.uri}/InRelease"
    first = fetcher.get_if_changed(url)
    assert (first.body, first.etag, first.last_modified) == (
        b"release", '"v1"', "Sun, 01 Nov 2026")
    again = fetcher.get_if_changed(url, first.etag, first.last_modified)
    assert (again.body, again.etag) == (None, '"v1"')
    assert server.requests[1].headers["If-Modified-Since"] == "Sun, 01 Nov 2026"


@pytest.mark.parametrize("status", [404, 410])
def test_gone_is_not_found_and_not_retried(
    server: WebServer, fetcher: Fetcher, status: int
) -> None:
    server.routes["/gone"] = answer(status, b"no")
    with pytest.raises(NotFound, match=rf"/gone: HTTP {status} "):
        fetcher.get_bytes(f"{server.uri}/gone")
    assert len(server.requests) == 1


def test_another_status_is_one_error_not_retried(server: WebServer, fetcher: Fetcher) -> None:
    server.routes["/forbidden"] = answer(403)
    with pytest.raises(FetchError, match=r"/forbidden: HTTP 403 Forbidden$"):
        fetcher.get_bytes(f"{server.uri}/forbidden")
    assert len(server.requests) == 1


def test_5xx_then_success_and_429_with_retry_after(
    server: WebServer, fetcher: Fetcher, waits: list[float]
) -> None:
    server.routes["/file"] = sequence([answer(503), answer(429, headers={"Retry-After": "3"})])
    assert fetcher.get_bytes(f"{server.uri}/file") == BODY
    assert waits == [0.01, 3.0] and len(server.requests) == 3


def _head(length: int, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


def test_a_body_cut_short_is_retried_then_one_error(
    server: WebServer, fetcher: Fetcher, waits: list[float]
) -> None:
    cut = raw(_head(len(BODY)) + BODY[:100_000])
    server.routes["/file"] = sequence([cut])
    assert fetcher.get_bytes(f"{server.uri}/file") == BODY  # the second attempt
    assert len(server.requests) == 2

    server.routes["/file"] = sequence([], then=cut)
    with pytest.raises(FetchError) as raised:
        fetcher.get_bytes(f"{server.uri}/file")
    assert str(raised.value) == (
        f"{server.uri}/file: RemoteProtocolError: peer closed connection without sending "
        f"complete message body: received 100000 bytes, expected 256000 (after 3 attempts)")


class Notes(Reporter):
    """Records every progress line and note a fetch makes."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        self.lines.append(description)
        yield Task()

    def note(self, message: str) -> None:
        self.lines.append(message)


def _overrun(then: bytes, delay: float, sent: threading.Event) -> Route:
    """Five bytes announced and sent, then ``then`` with them or ``delay`` seconds later,
    the connection kept."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(_head(5) + b"abcde" + (b"" if delay else then))
        handler.wfile.flush()
        if delay:
            time.sleep(delay)
            handler.wfile.write(then)
            handler.wfile.flush()
        sent.set()
        handler.close_connection = False

    return route


@pytest.mark.parametrize(("then", "delay", "noted"), [
    (b"fghij", 0.0, True),  # with the last byte of the body
    (b"fghij", 0.2, True),  # while the connection is idle
    (b"HTTP/1.1 408 Request Timeout\r\n\r\n", 0.2, False),  # an idle server's farewell
])
def test_bytes_past_the_content_length_drop_the_connection_whenever_they_arrive(
    server: WebServer, then: bytes, delay: float, noted: bool
) -> None:
    """The answer stands (its bytes are checked by hash or signature), the connection is not
    used again and a note names the URL: the same outcome whether the extra bytes came with
    the last byte of the body or later."""
    sent, notes = threading.Event(), Notes()
    server.routes["/long"] = _overrun(then, delay, sent)
    with Fetcher(retries=0, reporter=notes) as fetcher:
        assert fetcher.get_bytes(f"{server.uri}/long") == b"abcde"
        assert sent.wait(5)
        time.sleep(0.05)  # the bytes cross the loopback
        assert fetcher.get_bytes(f"{server.uri}/dir/small") == b"small"
    assert server.paths() == ["/long", "/dir/small"]
    assert len({seen.port for seen in server.requests}) == 2  # a fresh connection
    assert notes.lines == ([f"{server.uri}/long: the server sent more than the Content-Length "
                            "it announced; that connection is not used again"] if noted else [])


def test_chunked_bodies(server: WebServer, fetcher: Fetcher) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"hello ", b"chunked"))
    server.routes["/chunked"] = raw(head + chunks + b"0\r\n\r\n", close=False)
    assert fetcher.get_bytes(f"{server.uri}/chunked") == b"hello chunked"
    assert fetcher.get_bytes(f"{server.uri}/dir/small") == b"small"
    assert len({seen.port for seen in server.requests}) == 1  # kept after the last chunk

    server.routes["/chunked"] = raw(head + chunks)  # no last chunk: cut short
    with pytest.raises(FetchError, match=r"/chunked: RemoteProtocolError: peer closed "
                                         r"connection .*IncompleteRead.*\(after 3 attempts\)"):
        fetcher.get_bytes(f"{server.uri}/chunked")


def test_a_server_slower_than_the_timeout(server: WebServer, waits: list[float]) -> None:
    server.routes["/slow"] = raw(_head(2) + b"ok", delay=1.0)
    with Fetcher(retries=1, backoff=0.01, timeout=0.3, sleep=waits.append) as fetcher:
        with pytest.raises(FetchError) as raised:
            fetcher.get_bytes(f"{server.uri}/slow")
    assert str(raised.value) == f"{server.uri}/slow: ReadTimeout: timed out (after 2 attempts)"


def test_connections_are_kept_per_thread(server: WebServer, fetcher: Fetcher) -> None:
    url = f"{server.uri}/dir/small"

    def three(name: str) -> None:
        for _ in range(3):
            assert fetcher.fetch(url, b"".join, headers={"X-Thread": name}) == b"small"

    three("main")
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        barrier.wait()
        three(name)

    # Two threads at once: each gets its own connections, and reuses them.
    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    three("main")
    ports = {name: {seen.port for seen in server.requests if seen.headers["X-Thread"] == name}
             for name in ("main", "a", "b")}
    assert [len(p) for p in ports.values()] == [1, 1, 1], ports  # one connection each
    assert len(set.union(*ports.values())) == 3  # none shared
    assert len(server.requests) == 12


def test_a_connection_the_server_closed_is_replaced_without_a_retry(
    server: WebServer, fetcher: Fetcher, waits: list[float]
) -> None:
    # Answers that keep the connection by HTTP/1.1's rules, then hang up while it is idle.
    server.routes["/dir/small"] = raw(_head(5) + b"small", close=True)
    for _ in range(3):
        assert fetcher.get_bytes(f"{server.uri}/dir/small") == b"small"
    assert len({seen.port for seen in server.requests}) == 3 and waits == []


def test_http_proxy_and_no_proxy(server: WebServer) -> None:
    proxy = ForwardingProxy()
    try:
        with Fetcher(proxies=environment_proxies({"http_proxy": proxy.uri})) as through:
            assert through.get_bytes(f"{server.uri}/file") == BODY
        assert proxy.asked == [("GET", f"{server.uri}/file")]

        bypassed = environment_proxies({"HTTP_PROXY": proxy.uri, "no_proxy": "localhost,127.0.0.1"})
        with Fetcher(proxies=bypassed) as direct:
            assert direct.get_bytes(f"{server.uri}/dir/small") == b"small"
        assert proxy.asked == [("GET", f"{server.uri}/file")]
        assert server.paths() == ["/file", "/dir/small"]
    finally:
        proxy.close()


@pytest.mark.parametrize("environ", [
    {"http_proxy": "http://p:1", "HTTPS_PROXY": "http://q:2", "no_proxy": "a,b"},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"},
    {"HTTP_PROXY": "http://upper:1", "http_proxy": ""},  # the empty lower-case name unsets
    {"ALL_PROXY": "http://p:1", "REQUEST_METHOD": "GET", "HTTP_PROXY": "http://cgi:1"},
    {"PATH": "/bin"},
])
def test_the_environments_proxies_are_urllibs(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.request import getproxies_environment

    monkeypatch.setattr(os, "environ", environ)
    assert dict(environment_proxies(environ)) == getproxies_environment()


def test_a_lock_goes_through_the_environments_proxy(
    spec_file, apt_repo: AptRepo, tmp_path: Path
) -> None:
    """The whole command: http_proxy in the environment, read by Settings, used by the
    fetcher for every file of the lock."""
    proxy = ForwardingProxy()
    try:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(http_proxy=proxy.uri, ZEROCVE_CACHE_DIR=str(tmp_path / "cache"))
        spec = spec_file(["tzdata"], http=True)
        done = subprocess.run([sys.executable, "-m", "zerocve", "-q", "lock", str(spec)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        asked = [target for method, target in proxy.asked if method == "GET"]
        assert f"{apt_repo.http_uri}/dists/bookworm/InRelease" in asked
        assert any(t.endswith("/Packages.gz") for t in asked)
    finally:
        proxy.close()


def test_an_unsupported_proxy_is_one_error(server: WebServer) -> None:
    socks = environment_proxies({"all_proxy": "socks5://127.0.0.1:1080"})
    with Fetcher(proxies=socks) as fetcher, pytest.raises(FetchError) as raised:
        fetcher.get_bytes(f"{server.uri}/file")
    assert str(raised.value) == (f"{server.uri}/file: proxy socks5://127.0.0.1:1080: only "
                                 "http:// proxies are supported")


def test_https_verified_by_the_trust_store_and_through_a_proxy(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tls_files(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = WebServer(root, tls)
    proxy = ForwardingProxy()
    try:
        # Not in the system's trust store: refused, whichever way it is reached.
        with Fetcher(retries=0) as untrusting, pytest.raises(FetchError) as raised:
            untrusting.get_bytes(f"{server.uri}/file")
        assert "ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]" in str(raised.value)
        assert server.requests == []

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read by OpenSSL itself
        with Fetcher() as trusting:
            assert trusting.get_bytes(f"{server.uri}/file") == BODY
        with Fetcher(proxies=environment_proxies({"https_proxy": proxy.uri})) as tunnelled:
            assert tunnelled.get_bytes(f"{server.uri}/dir/small") == b"small"
        assert proxy.asked == [("CONNECT", server.uri.removeprefix("https://"))]
        assert server.paths() == ["/file", "/dir/small"]
    finally:
        proxy.close()
        server.close()


PASSWORD = "s3cr:t/@pw"  # percent-encoded in URLs
USER_INFO = "us%20er:s3cr%3At%2F%40pw"


def _basic(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


def _with_user_info(uri: str) -> str:
    return uri.replace("://", f"://{USER_INFO}@", 1)


def test_basic_auth_from_the_urls_user_info_stays_with_its_origin(
    root: Path, server: WebServer, fetcher: Fetcher
) -> None:
    """The server sees the decoded user and password; a redirect on the same origin keeps
    them, one to another origin (here another port) does not, as apt and httpx."""
    other = WebServer(root)
    try:
        server.routes["/here"] = redirect("/dir/small")
        server.routes["/away"] = redirect(f"{other.uri}/dir/small")
        base = _with_user_info(server.uri)
        assert fetcher.get_bytes(f"{base}/file") == BODY
        assert fetcher.get_bytes(f"{base}/here") == b"small"
        assert fetcher.get_bytes(f"{base}/away") == b"small"
        expected = _basic("us er", PASSWORD)
        assert [seen.headers.get("Authorization") for seen in server.requests] == [expected] * 4
        assert [seen.headers.get("Authorization") for seen in other.requests] == [None]
    finally:
        other.close()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("case", ["401", "404", "refused", "timeout", "loop", "scheme", "proxy"])
def test_no_message_names_the_password(server: WebServer, case: str) -> None:
    """Whatever fails, the error, its causes, the progress lines and the notes name the URL
    without its user info."""
    server.routes["/401"] = answer(401, b"who?", {"WWW-Authenticate": 'Basic realm="apt"'})
    server.routes["/timeout"] = raw(_head(2) + b"ok", delay=1.0)
    server.routes["/loop"] = redirect("/loop")
    server.routes["/scheme"] = redirect(f"ftp://{USER_INFO}@127.0.0.1/x")
    uri = _closed_port() if case == "refused" else server.uri
    url = f"{_with_user_info(uri)}/{case}"
    proxies = environment_proxies({"http_proxy": f"ftp://{USER_INFO}@127.0.0.1:1"}
                                  if case == "proxy" else {})
    notes = Notes()
    with Fetcher(retries=1, backoff=0.01, timeout=0.3, sleep=lambda _: None, reporter=notes,
                 proxies=proxies) as fetcher, pytest.raises(FetchError) as raised:
        fetcher.fetch(url, b"".join, description=url.rsplit("/", 1)[-1])
    told, error = [], raised.value
    while error is not None:
        told += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    assert f"{uri}/" in told[0] or case == "scheme"
    for text in told + notes.lines:
        assert "s3cr" not in text and "us%20er" not in text, text


def test_apt_login_files_give_credentials_as_apt_reads_them(
    server: WebServer, tmp_path: Path
) -> None:
    """The repository client reads auth.conf and auth.conf.d/*.conf under the settings' apt
    directory and sends their credentials: by host, port and path prefix, to https only unless the
    entry names http://, the first entry that applies winning, user info in the URL first."""
    apt = tmp_path / "apt"
    (apt / "auth.conf.d").mkdir(parents=True)
    host, port = server.uri.removeprefix("http://").split(":")
    (apt / "auth.conf").write_text(
        f"machine {host}:{port}/dir login plain password only-https\n"  # no scheme: https only
        f"machine http://{host}:{port}/di login first password pw-one\n")
    (apt / "auth.conf.d" / "b.conf").write_text(
        f"machine http://{host}:1/file login wrong password port\n"
        f"machine\thttp://{host}/file\n  login second\n  password pw-two\n")
    (apt / "auth.conf.d" / "a.txt").write_text(f"machine http://{host} login no password x\n")
    settings = Settings.from_env({"ZEROCVE_APT_DIR": str(apt)}, cache_dir=tmp_path / "cache")
    with repo_client(settings) as client:
        for path in ("/dir/small", "/file", "/dir/small"):
            client.fetcher.get_bytes(f"{server.uri}{path}")
        client.fetcher.get_bytes(f"{_with_user_info(server.uri)}/file")
    assert [seen.headers.get("Authorization") for seen in server.requests] == [
        _basic("first", "pw-one"), _basic("second", "pw-two"), _basic("first", "pw-one"),
        _basic("us er", PASSWORD)]
    assert "pw-one" not in repr(read_apt_logins(apt))


def test_a_401_names_the_login_files_that_could_not_be_read(
    server: WebServer, tmp_path: Path
) -> None:
    apt = tmp_path / "apt"
    (apt / "auth.conf").mkdir(parents=True)  # a directory: not readable as a file
    server.routes["/InRelease"] = answer(401)
    settings = Settings.from_env({"ZEROCVE_APT_DIR": str(apt)}, cache_dir=tmp_path / "cache")
    with repo_client(settings) as client, pytest.raises(FetchError) as raised:
        client.fetcher.get_bytes(f"{server.uri}/InRelease")
    assert str(raised.value) == (f"{server.uri}/InRelease: HTTP 401 Unauthorized (apt's login "
                                 f"files not readable: {apt / 'auth.conf'})")


def test_https_through_an_http_proxy_with_credentials(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An https:// target through an http:// proxy, as apt does: one CONNECT carries the
    proxy's credentials, the tunnel is kept for the next request, the origin sees neither
    them nor anything but its own path; wrong credentials are one line naming no password."""
    cert, key = tls_files(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = WebServer(root, tls)
    proxy = ForwardingProxy(require=_basic("us er", PASSWORD))
    target = server.uri.removeprefix("https://")
    try:
        through = environment_proxies({"https_proxy": _with_user_info(proxy.uri)})
        with Fetcher(proxies=through) as fetcher:
            assert fetcher.get_bytes(f"{server.uri}/file") == BODY
            assert fetcher.get_bytes(f"{server.uri}/dir/small") == b"small"
        assert proxy.asked == [("CONNECT", target)]
        assert proxy.credentials == [_basic("us er", PASSWORD)]
        assert server.paths() == ["/file", "/dir/small"]
        assert not any("Proxy-Authorization" in seen.headers for seen in server.requests)

        # Refused at once (the default retries would wait some 7.5 s): the same wrong
        # credentials again would not become right.
        wrong = environment_proxies({"https_proxy": proxy.uri.replace("://", "://us%20er:no@")})
        slept: list[float] = []
        with Fetcher(proxies=wrong, sleep=slept.append) as fetcher, \
                pytest.raises(FetchError) as raised:
            fetcher.get_bytes(f"{server.uri}/file")
        assert str(raised.value) == (f"{server.uri}/file: ProxyError: Tunnel connection failed: "
                                     "407 Proxy Authentication Required")
        assert slept == []
        assert proxy.asked == [("CONNECT", target)] * 2
        assert len(server.requests) == 2
    finally:
        proxy.close()
        server.close()
