"""Download a feed URL into the DB's download cache, conditionally.

The validators of the last download (ETag, Last-Modified) are kept by the DB; a 304 reply
means the cached copy is current and nothing needs to be re-imported.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


@dataclass(frozen=True)
class Fetched:
    path: Path  # the cached copy
    etag: str
    last_modified: str
    not_modified: bool  # the server answered 304: the cached copy is current


def cache_path(url: str, cache_dir: Path) -> Path:
    """Where ``url`` is cached: a stable name per URL, keeping the file's own suffix (the
    OSV reader tells a zip from JSON by content, but a readable name helps)."""
    name = Path(urlsplit(url).path).name or "feed"
    return cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def fetch(
    url: str,
    cache_dir: Path,
    *,
    etag: str = "",
    last_modified: str = "",
    client: httpx.Client | None = None,
    reporter: Reporter = NULL_REPORTER,
) -> Fetched:
    """GET ``url`` into the cache, sending the previous validators when the cached copy still
    exists. AdvisoryError (one line, naming the URL) on network or HTTP failure."""
    target = cache_path(url, cache_dir)
    headers = {}
    if target.exists():
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(follow_redirects=True, timeout=60.0)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".part-{os.getpid()}")
    try:
        with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(target, etag, last_modified, not_modified=True)
            if response.status_code != 200:
                raise AdvisoryError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            total = int(response.headers.get("Content-Length") or 0) or None
            with reporter.task(f"download {target.name[17:]}", total=total) as task:
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        task.advance(len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(partial, target)
            return Fetched(
                target,
                response.headers.get("ETag", ""),
                response.headers.get("Last-Modified", ""),
                not_modified=False,
            )
    except httpx.HTTPError as e:
        raise AdvisoryError(f"{url}: cannot fetch advisory feed: {e or type(e).__name__}") from e
    except OSError as e:
        raise AdvisoryError(f"{target}: cannot write download: {e.strerror}") from e
    finally:
        partial.unlink(missing_ok=True)
        if own_client:
            http.close()
