"""Download a feed URL into the DB's download cache, conditionally.

A URL names a file (a zip or a JSON document) or, ending in ``/``, a directory: its index
page (a web server's listing) is read and every ``*.json`` it links below the URL is
downloaded into a cached directory. The validators of the last download (ETag,
Last-Modified) are kept by the DB; a 304 reply means the cached copy is current and nothing
needs to be re-imported. A new copy replaces the old one only once it is complete.
Connection failures, 429 and 5xx answers are retried by the policy every zerocve HTTP client
shares (``zerocve.retry``); a retried download starts over.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.retry import DEFAULT_RETRY, RetryPolicy, Transient, check_status, describe

if TYPE_CHECKING:
    import httpx

_JSON_LINK = re.compile(r"""href\s*=\s*["']([^"'?#]+\.json)["']""", re.IGNORECASE)


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


@dataclass(frozen=True)
class Fetched:
    path: Path  # the cached copy (a directory for a directory URL)
    etag: str
    last_modified: str
    not_modified: bool  # the server answered 304: the cached copy is current


def cache_path(url: str, cache_dir: Path) -> Path:
    """Where ``url`` is cached: a stable name per URL, keeping the file's own name."""
    name = Path(urlsplit(url).path).name or "index"
    return cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def partial_path(target: Path) -> Path:
    """The name a download is written under until it is complete."""
    return target.with_name(f"{target.name}.part-{os.getpid()}")


def remove_leftovers(cache_dir: Path) -> None:
    """Delete what a killed download left behind; call only while no download runs."""
    if cache_dir.is_dir():
        for leftover in [*cache_dir.glob("*.part-*"), *cache_dir.glob("*.old-*")]:
            _remove(leftover)


def fetch(
    url: str,
    cache_dir: Path,
    *,
    etag: str = "",
    last_modified: str = "",
    client: httpx.Client | None = None,
    reporter: Reporter = NULL_REPORTER,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Fetched:
    """GET ``url`` into the cache, sending the previous validators when the cached copy still
    exists. AdvisoryError (one line, naming the URL) on network or HTTP failure, once
    ``retry`` gives up."""
    import httpx  # here: the DB reader imports this module, and a scan never fetches

    target = cache_path(url, cache_dir)
    headers = {}
    if target.exists():
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=60.0)
    partial = partial_path(target)

    def attempt() -> Fetched:
        _remove(partial)  # what a failed attempt left
        try:
            with http.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(target, etag, last_modified, not_modified=True)
                _check(url, response)
                if url.endswith("/"):
                    response.read()
                    _mirror_listing(http, url, response.text, partial, reporter)
                else:
                    _save(response, partial, f"download {Path(urlsplit(url).path).name}",
                          reporter)
                validators = (
                    response.headers.get("ETag", ""),
                    response.headers.get("Last-Modified", ""),
                )
        except httpx.TransportError as e:
            raise Transient(describe(e)) from e
        except httpx.HTTPError as e:  # e.g. an invalid URL: retrying would not help
            raise AdvisoryError(f"{url}: cannot fetch advisory feed: {describe(e)}") from e
        _swap_in(partial, target)
        return Fetched(target, *validators, not_modified=False)

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return retry.run(attempt, lambda failure, attempts: AdvisoryError(
            f"{url}: cannot fetch advisory feed: {failure.reason} (after {attempts} attempts)"))
    except OSError as e:
        raise AdvisoryError(f"{target}: cannot write download: {e.strerror}") from e
    finally:
        _remove(partial)
        if own_client:
            http.close()


def _check(url: str, response: httpx.Response) -> None:
    check_status(response)
    if response.status_code != 200:
        raise AdvisoryError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")


def _save(response: httpx.Response, dest: Path, description: str, reporter: Reporter) -> None:
    total = int(response.headers.get("Content-Length") or 0) or None
    with reporter.task(description, total=total) as task, dest.open("wb") as out:
        for chunk in response.iter_bytes(1 << 20):
            out.write(chunk)
            task.advance(len(chunk))
        out.flush()
        os.fsync(out.fileno())


def _mirror_listing(
    http: httpx.Client, url: str, listing: str, dest: Path, reporter: Reporter
) -> None:
    """Download every JSON file the index page links below ``url`` into ``dest``."""
    links = sorted({urljoin(url, href) for href in _JSON_LINK.findall(listing)})
    links = [link for link in links if link.startswith(url) and "/" not in link[len(url) :]]
    if not links:
        raise AdvisoryError(f"{url}: the directory listing links no .json files")
    dest.mkdir()
    with reporter.task(f"download {len(links)} records", total=len(links)) as task:
        for link in links:
            with http.stream("GET", link) as response:
                _check(link, response)
                name = Path(urlsplit(link).path).name
                with (dest / name).open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
            task.advance()


def _swap_in(partial: Path, target: Path) -> None:
    """Replace ``target`` by the complete download (a directory cannot be replaced in one
    rename, so the old one is moved aside first)."""
    if partial.is_dir() and target.exists():
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(partial, target)
        _remove(old)
    else:
        os.replace(partial, target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
