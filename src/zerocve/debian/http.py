"""Fetching repository files over ``http(s)://`` and ``file://``, with retries.

Connection errors, bodies cut short, 5xx and 429 answers are retried by the one policy every
zerocve HTTP client shares (``zerocve.retry``); anything else, or the last failure, is one
``FetchError`` line naming the URL, without its user info: a password given in a source's
URL (``http://user:password@host/debian``) appears in no message, note or exception text.

HTTP goes through the standard library (``zerocve.debian.http_get``), not httpx as the
registry client (``zerocve.oci.registry``) does. This fetcher is on the path of every
``zerocve lock`` and cold ``zerocve build``, and only GETs static files: importing httpx and
making its client (certifi's bundle, httpcore's async back ends) cost 0.2-0.4 s before the
first byte, against 0.05 s for ``http.client``. The registry client needs what httpx gives
(token auth flows, uploads, ranged and chunked pushes) and runs only to push or pull.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

from zerocve.debian.apt_auth import NO_LOGINS, AptLogins
from zerocve.errors import FetchError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.retry import RetryPolicy, check_status
from zerocve.user_info import split_user_info

if TYPE_CHECKING:  # http.client costs 0.03 s that a build from file:// need not pay
    from zerocve.debian.http_get import Client

T = TypeVar("T")
_CHUNK = 1 << 16


class NotFound(FetchError):
    """The server (or file system) says the file does not exist: 404/410, or ENOENT."""


class NotModified(FetchError):
    """The server answered 304 to a conditional request: the copy the caller has is current."""


@dataclass(frozen=True)
class Conditional:
    """The answer to a conditional GET: the body (None when not modified) and the validators
    to send next time."""

    body: bytes | None
    etag: str
    last_modified: str


class Fetcher:
    """Reads URLs as chunk streams. ``retries``, ``backoff`` and ``sleep`` make its
    ``RetryPolicy``; ``timeout`` bounds connecting and each read, in seconds; ``proxies`` are
    ``Settings.proxies``; ``logins`` come from apt's login files (``zerocve.api.repo_client``)."""

    def __init__(
        self,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        reporter: Reporter = NULL_REPORTER,
        proxies: tuple[tuple[str, str], ...] = (),
        logins: AptLogins = NO_LOGINS,
    ) -> None:
        self._timeout = timeout
        self._proxies = proxies
        self._logins = logins
        self._http: Client | None = None  # made by the first HTTP request
        self._making = threading.Lock()  # requests come from several threads
        self.policy = RetryPolicy(retries, backoff, sleep)
        self.reporter = reporter

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> Client:
        # A build from the cache, or from a file:// repository, never needs it.
        with self._making:
            if self._http is None:
                from zerocve.debian.http_get import Client

                self._http = Client(self._timeout, self._proxies, self._logins,
                                    self.reporter.note)
            return self._http

    def fetch(
        self,
        url: str,
        consume: Callable[[Iterator[bytes]], T],
        *,
        description: str | None = None,
        total: int | None = None,
        headers: Mapping[str, str] | None = None,
        seen: dict[str, str] | None = None,
    ) -> T:
        """``consume`` the body of ``url`` as a chunk iterator; on a retryable failure (also
        mid-body) ``consume`` is called again with a fresh iterator. Progress is reported per
        chunk when ``description`` is given. ``headers`` go with an HTTP request, whose
        response headers are copied into ``seen``."""

        def attempt() -> T:
            with ExitStack() as stack:
                advance = None
                if description is not None:
                    advance = stack.enter_context(self.reporter.task(description, total)).advance
                if url.startswith("file://"):
                    return consume(_file_chunks(url, advance))
                return self._fetch_http(url, consume, advance, headers, seen)

        return self.policy.run(
            attempt, lambda failure, attempts: FetchError(
                f"{redacted(url)}: {failure.reason} (after {attempts} attempts)")
        )

    def get_bytes(self, url: str) -> bytes:
        return self.fetch(url, b"".join)

    def get_if_changed(self, url: str, etag: str = "", last_modified: str = "") -> Conditional:
        """GET with If-None-Match / If-Modified-Since (when given). A ``file://`` URL has no
        validators: it is always read."""
        headers = {name: value for name, value in
                   (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if value}
        seen: dict[str, str] = {}
        try:
            body = self.fetch(url, b"".join, headers=headers, seen=seen)
        except NotModified:
            return Conditional(None, etag, last_modified)
        return Conditional(body, seen.get("etag", ""), seen.get("last-modified", ""))

    def _fetch_http(
        self,
        url: str,
        consume: Callable[[Iterator[bytes]], T],
        advance: Callable[[float], None] | None,
        headers: Mapping[str, str] | None = None,
        seen: dict[str, str] | None = None,
    ) -> T:
        from zerocve.debian.http_get import Refused

        shown = redacted(url)
        try:
            with self._client().get(url, headers) as response:
                status = response.status_code
                if seen is not None:
                    seen.update((k.lower(), v) for k, v in response.headers.items())
                if status == 304 and headers:
                    raise NotModified(f"{shown}: not modified")
                check_status(response)
                said = f"{shown}: HTTP {status} {response.reason_phrase}"
                if status in (404, 410):
                    raise NotFound(said)
                if status == 401 and self._logins.unreadable:
                    unread = ", ".join(str(path) for path in self._logins.unreadable)
                    raise FetchError(f"{said} (apt's login files not readable: {unread})")
                if status != 200:
                    raise FetchError(said)
                return consume(_counted(response.chunks, advance))
        except Refused as e:  # e.g. an invalid URL or a redirect loop: retrying would not help
            raise FetchError(f"{shown}: {e}") from e


def redacted(url: str) -> str:
    """``url`` as messages name it: without its user info (``user:password@``)."""
    return split_user_info(url)[0]


def _counted(chunks: Iterator[bytes], advance: Callable[[float], None] | None) -> Iterator[bytes]:
    for chunk in chunks:
        if advance is not None:
            advance(len(chunk))
        yield chunk


def file_path(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    return Path(unquote(urlsplit(url).path))


def _file_chunks(url: str, advance: Callable[[float], None] | None) -> Iterator[bytes]:
    path = file_path(url)
    try:
        f = path.open("rb")
    except FileNotFoundError as e:
        raise NotFound(f"{url}: no such file") from e
    except OSError as e:
        raise FetchError(f"{url}: {e.strerror}") from e
    with f:
        yield from _counted(iter(lambda: f.read(_CHUNK), b""), advance)
