"""Fetching repository files over ``http(s)://`` and ``file://``, with retries.

Connection errors, bodies cut short, 5xx and 429 answers are retried with exponential backoff
(a bounded number of times); anything else, or the last failure, is one ``FetchError`` line
naming the URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import httpx

from zerocve.errors import FetchError
from zerocve.progress import NULL_REPORTER, Reporter

T = TypeVar("T")
_CHUNK = 1 << 16
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped


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


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait  # at least this long before the next attempt (Retry-After)


class Fetcher:
    """Reads URLs as chunk streams. ``transport`` is an httpx transport (injectable for tests);
    ``sleep`` is how backoff waits."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        reporter: Reporter = NULL_REPORTER,
    ) -> None:
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": "zerocve"},
        )
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.reporter = reporter

    def close(self) -> None:
        self._client.close()

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
        for attempt in range(self.retries + 1):
            try:
                with ExitStack() as stack:
                    advance = None
                    if description is not None:
                        advance = stack.enter_context(
                            self.reporter.task(description, total)
                        ).advance
                    if url.startswith("file://"):
                        return consume(_file_chunks(url, advance))
                    return self._fetch_http(url, consume, advance, headers, seen)
            except _Retryable as e:
                if attempt == self.retries:
                    raise FetchError(
                        f"{url}: {e.reason} (after {self.retries + 1} attempts)"
                    ) from e
                self.sleep(max(self.backoff * 2**attempt, e.wait))
        raise AssertionError("unreachable")

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
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if seen is not None:
                    seen.update((k.lower(), v) for k, v in response.headers.items())
                if status == 304 and headers:
                    raise NotModified(f"{url}: not modified")
                if status in _RETRY_STATUS:
                    retry_after = response.headers.get("Retry-After", "")
                    wait = min(float(retry_after), _MAX_RETRY_AFTER) if retry_after.isdigit() else 0
                    raise _Retryable(f"HTTP {status} {response.reason_phrase}", wait)
                if status in (404, 410):
                    raise NotFound(f"{url}: HTTP {status} {response.reason_phrase}")
                if status != 200:
                    raise FetchError(f"{url}: HTTP {status} {response.reason_phrase}")
                return consume(_counted(response.iter_bytes(_CHUNK), advance))
        except httpx.TransportError as e:
            raise _Retryable(_describe(e)) from e
        except httpx.HTTPError as e:  # e.g. an invalid URL: retrying would not help
            raise FetchError(f"{url}: {_describe(e)}") from e


def _describe(error: httpx.HTTPError) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


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
