"""A client for the OCI distribution API (push and pull), on httpx.

One ``RegistryClient`` talks to one registry host. Plain http is used for loopback hosts
(``127.0.0.0/8``, ``localhost``, ``[::1]``) and when ``insecure=True``; https otherwise.
Credentials and bearer tokens are handled by ``zerocve.oci.auth``.

Failures: connection errors, 5xx and 429 are retried by the policy every zerocve HTTP client
shares (``zerocve.retry``: exponential backoff bounded by ``retries``, ``Retry-After`` honoured
up to a cap). A blob upload that fails part-way is
started again from a fresh upload session (after checking that the blob did not land
after all), because the state of a half-used session cannot be trusted. Anything else, or
running out of attempts, raises ``RegistryError`` with one line naming host, repository,
operation and status.

Public API (used by ``zerocve publish`` and by scanning, which pulls images):

- ``blob_exists(repo, digest) -> bool``
- ``mount_blob(repo, digest, from_repo) -> bool``
- ``upload_blob(repo, digest, data, size=None, *, chunk_size=None, reporter=...)``
- ``put_manifest(repo, reference, body, media_type) -> digest``
- ``head_manifest(repo, reference, accept=...) -> digest | None``
- ``get_manifest(repo, reference, accept=...) -> Manifest(body, media_type, digest)`` and
  ``find_manifest`` (the same, or None when absent)
- ``delete_manifest(repo, digest) -> bool`` (the registry must allow deletes)
- ``get_referrers(repo, digest) -> Manifest | None`` (None: no referrers API)
- ``get_blob(repo, digest, size) -> bytes`` and ``download_blob(repo, digest, dest, size, ...)``

Bounds: a manifest or index is read up to ``MAX_MANIFEST`` (4 MiB, as containerd and
distribution do), a blob up to the size its descriptor declares: one byte more and the read
stops with ``RegistryError``, before the digest check and before the bytes reach memory or
disk. Error bodies are read up to ``_MAX_ERROR_BODY``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

import httpx

from zerocve.errors import RegistryError
from zerocve.oci.auth import TokenAuth, lookup_credentials
from zerocve.oci.media_types import MANIFEST_MEDIA_TYPES, MAX_MANIFEST, OCI_INDEX
from zerocve.progress import NULL_REPORTER, Reporter, Task
from zerocve.retry import TRANSIENT_STATUSES, RetryPolicy, Transient, describe, retry_after
from zerocve.safe_load import load_json

_DIGEST = re.compile(r"(sha256|sha512):[a-f0-9]+")
_READ_SIZE = 1 << 20
_MAX_ERROR_BODY = 64 << 10
_T = TypeVar("_T")

Body = bytes | Callable[[], Iterator[bytes]]
"""A request body: bytes, or a factory of fresh byte iterators (so a request can be resent)."""


class Manifest(NamedTuple):
    """A manifest as fetched: the exact bytes, their media type and their verified digest."""

    body: bytes
    media_type: str
    digest: str


class _Progress:
    """Bytes sent in the current attempt, mirrored on a reporter task; a retry rewinds."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self._sent = 0

    def __call__(self, amount: int) -> None:
        self._sent += amount
        self._task.advance(amount)

    def rewind(self) -> None:
        self._task.advance(-self._sent)
        self._sent = 0


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.x.y.z`` and ``[::1]``, with or without a port."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    return name in ("localhost", "::1") or re.fullmatch(r"127(\.\d{1,3}){3}", name) is not None


def _hasher(digest: str, where: str) -> hashlib._Hash:
    if not _DIGEST.fullmatch(digest):
        raise RegistryError(f"{where}: unsupported or malformed digest {digest!r}")
    return hashlib.new(digest.split(":", 1)[0])


def compute_digest(data: bytes) -> str:
    """The ``sha256:`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(digest: str) -> str:
    return digest[:19]


def _registry_errors(response: httpx.Response, stream: bool) -> str:
    """The ``errors`` of a distribution error body, as ``CODE: message; ...`` (a streamed
    body is read up to ``_MAX_ERROR_BODY`` and closed)."""
    try:
        body = _read_capped(response, _MAX_ERROR_BODY, "error body") if stream else response.content
        errors = load_json(body).get("errors")
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except Exception:  # any body that is not the spec's error JSON: status alone says enough
        return ""


class RegistryClient:
    """Distribution API client for one registry host (``HOST[:PORT]``).

    ``transport`` is passed to httpx (tests and proxies); ``auth_files`` are read for
    credentials, first match wins (``Settings.registry_auth``; none: anonymous); ``sleep`` is
    the backoff clock.
    """

    def __init__(
        self,
        host: str,
        *,
        transport: httpx.BaseTransport | None = None,
        insecure: bool | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 60.0,
        auth_files: Sequence[Path] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host
        self.insecure = is_loopback(host) if insecure is None else insecure
        self.policy = RetryPolicy(retries, backoff, sleep)
        scheme = "http" if self.insecure else "https"
        self._base = httpx.URL(f"{scheme}://{host}/v2/")
        self._http = httpx.Client(transport=transport, timeout=timeout)
        self._auth = TokenAuth(host, lookup_credentials(host, auth_files), self._http)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing -------------------------------------------------------------------------

    def _url(self, repo: str, *parts: str) -> httpx.URL:
        return self._base.join(f"{repo}/{'/'.join(parts)}")

    def _where(self, repo: str) -> str:
        return f"{self.host}/{repo}"

    def _send(
        self,
        method: str,
        url: httpx.URL,
        *,
        scope: str,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        follow: bool = False,
    ) -> httpx.Response:
        """One request, answered once more after a 401 the auth layer could satisfy."""
        for attempt in (0, 1):
            request_headers = dict(headers or {})
            authorization = self._auth.header(scope)
            if authorization:
                request_headers["Authorization"] = authorization
            content = body() if callable(body) else body
            request = self._http.build_request(
                method, url, content=content, headers=request_headers
            )
            response = self._http.send(request, stream=stream, follow_redirects=follow)
            if response.status_code == 401 and attempt == 0 and self._auth.handle(response, scope):
                response.close()
                continue
            return response
        raise AssertionError("unreachable")

    def _attempt(
        self,
        op: str,
        repo: str,
        method: str,
        url: httpx.URL,
        *,
        expect: tuple[int, ...],
        scope: str,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        follow: bool = False,
        transient: frozenset[int] = TRANSIENT_STATUSES,
    ) -> httpx.Response:
        """One request; raises ``Transient`` for what may pass, ``RegistryError`` otherwise."""
        try:
            response = self._send(
                method, url, scope=scope, body=body, headers=headers, stream=stream, follow=follow
            )
        except httpx.TransportError as e:
            raise Transient(describe(e)) from e
        except httpx.HTTPStatusError as e:  # the token server failing for now
            raise Transient(
                f"token server {e.request.url.copy_with(query=None)}: HTTP "
                f"{e.response.status_code}",
                retry_after(e.response),
            ) from e
        except RegistryError as e:  # from the token server: say which operation needed it
            raise RegistryError(f"{self._where(repo)}: {op}: {e}") from e
        if response.status_code in expect:
            return response
        status = response.status_code
        detail = _registry_errors(response, stream)
        message = f"HTTP {status}" + (f" ({detail})" if detail else "")
        if status in transient:
            raise Transient(message, retry_after(response))
        if status == 401:
            message += self._auth_hint()
        raise RegistryError(f"{self._where(repo)}: {op}: {message}")

    def _auth_hint(self) -> str:
        lookup = self._auth.lookup
        if lookup.unsupported:
            return f"; {lookup.unsupported}"
        if lookup.credentials is None:
            return f"; no credentials for {self.host} in the auth files (docker/podman login)"
        return f"; credentials for user {lookup.credentials.username!r} from {lookup.source}"

    def _retrying(self, op: str, repo: str, action: Callable[[], _T]) -> _T:
        """Run ``action`` until it succeeds, fails for good, or the attempts run out."""
        return self.policy.run(action, lambda failure, attempts: RegistryError(
            f"{self._where(repo)}: {op}: {failure} (gave up after {attempts} attempts)"))

    def _call(
        self,
        op: str,
        repo: str,
        method: str,
        url: httpx.URL,
        *,
        expect: tuple[int, ...],
        scope: str,
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = False,
    ) -> httpx.Response:
        """An idempotent request, retried as a whole."""
        return self._retrying(
            op,
            repo,
            lambda: self._attempt(
                op,
                repo,
                method,
                url,
                expect=expect,
                scope=scope,
                body=body,
                headers=headers,
                follow=follow,
            ),
        )

    @staticmethod
    def _pull(repo: str) -> str:
        return f"repository:{repo}:pull"

    @staticmethod
    def _push(repo: str) -> str:
        return f"repository:{repo}:pull,push"

    # ---- blobs ----------------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD the blob: True when ``repo`` already has it."""
        response = self._call(
            f"check blob {_short(digest)}",
            repo,
            "HEAD",
            self._url(repo, "blobs", digest),
            expect=(200, 307, 404),
            scope=self._pull(repo),
        )
        return response.status_code != 404

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Ask the registry to link ``digest`` from ``from_repo`` into ``repo`` without upload.

        True when mounted (201). False when the registry declined (202: it opened an upload
        session instead, which is left to expire; the caller uploads the blob).
        """
        url = self._url(repo, "blobs", "uploads", "").copy_merge_params(
            {"mount": digest, "from": from_repo}
        )
        response = self._call(
            f"mount blob {_short(digest)} from {from_repo}",
            repo,
            "POST",
            url,
            expect=(201, 202),
            scope=f"{self._push(repo)} {self._pull(from_repo)}",
            headers={"Content-Length": "0"},
        )
        return response.status_code == 201

    def upload_blob(
        self,
        repo: str,
        digest: str,
        data: bytes | Path,
        size: int | None = None,
        *,
        chunk_size: int | None = None,
        reporter: Reporter = NULL_REPORTER,
    ) -> None:
        """Upload ``data`` (bytes, or a file to stream) as blob ``digest`` of ``repo``.

        With ``chunk_size`` None: monolithic (POST a session, then one PUT ``?digest=`` with
        the body). Otherwise chunked: PATCH each ``chunk_size`` piece with its
        ``Content-Range``, then PUT ``?digest=``. The registry checks the digest. A failed
        attempt restarts from a new session. Progress goes to a reporter task sized in bytes.
        """
        _hasher(digest, self._where(repo))  # refuse a malformed digest before any request
        actual = len(data) if isinstance(data, bytes) else data.stat().st_size
        if size is not None and size != actual:
            where = "data" if isinstance(data, bytes) else str(data)
            raise RegistryError(
                f"{where}: blob {_short(digest)} is {actual} bytes, its descriptor says {size}"
            )
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        op = f"upload blob {_short(digest)}"
        with reporter.task(f"push {_short(digest)}", total=actual) as task:
            progress = _Progress(task)
            attempts = iter(range(self.policy.retries + 1))

            def once() -> None:
                # After a failure, the last request may still have been committed before its
                # reply was lost: then the blob is there and nothing is left to do.
                if next(attempts) and self.blob_exists(repo, digest):
                    return
                progress.rewind()
                self._upload_once(repo, digest, data, actual, chunk_size, op, progress)

            self._retrying(op, repo, once)

    def _upload_once(
        self,
        repo: str,
        digest: str,
        data: bytes | Path,
        size: int,
        chunk_size: int | None,
        op: str,
        progress: Callable[[int], None],
    ) -> None:
        scope = self._push(repo)
        started = self._attempt(
            op,
            repo,
            "POST",
            self._url(repo, "blobs", "uploads", ""),
            expect=(202,),
            scope=scope,
            headers={"Content-Length": "0"},
        )
        location = _location(started, op, self._where(repo))
        # A session the registry no longer knows (404) is as good as lost: start anew.
        in_session = TRANSIENT_STATUSES | {404}
        octets = {"Content-Type": "application/octet-stream"}
        if chunk_size is None:
            response = self._attempt(
                op,
                repo,
                "PUT",
                location.copy_merge_params({"digest": digest}),
                expect=(201,),
                scope=scope,
                body=lambda: _read_range(data, 0, size, progress),
                headers={**octets, "Content-Length": str(size)},
                transient=in_session,
            )
        else:
            for start in range(0, size, chunk_size):
                length = min(chunk_size, size - start)
                chunk = b"".join(_read_range(data, start, length, lambda n: None))
                patched = self._attempt(
                    op,
                    repo,
                    "PATCH",
                    location,
                    expect=(202,),
                    scope=scope,
                    body=chunk,
                    headers={
                        **octets,
                        "Content-Length": str(length),
                        "Content-Range": f"{start}-{start + length - 1}",
                    },
                    transient=in_session,
                )
                location = _location(patched, op, self._where(repo))
                progress(length)
            response = self._attempt(
                op,
                repo,
                "PUT",
                location.copy_merge_params({"digest": digest}),
                expect=(201,),
                scope=scope,
                headers={**octets, "Content-Length": "0"},
                transient=in_session,
            )
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed != digest:
            raise RegistryError(f"{self._where(repo)}: {op}: registry stored it as {echoed}")

    def get_blob(self, repo: str, digest: str, size: int) -> bytes:
        """The blob's bytes, verified against ``digest`` and read no further than the ``size``
        its descriptor declares. For small blobs (configs); use ``download_blob`` for layers."""
        op = f"get blob {_short(digest)}"
        where = f"{self._where(repo)}: {op}"
        hasher = _hasher(digest, self._where(repo))

        def once() -> bytes:
            response = self._attempt(
                op, repo, "GET", self._url(repo, "blobs", digest), expect=(200,),
                scope=self._pull(repo), stream=True, follow=True,
            )
            return _read_capped(response, size, f"blob {_short(digest)}", where)

        data = self._retrying(op, repo, once)
        hasher.update(data)
        _check_digest(hasher, digest, where)
        return data

    def download_blob(
        self, repo: str, digest: str, dest: Path, size: int, *,
        reporter: Reporter = NULL_REPORTER,
    ) -> Path:
        """Stream the blob into ``dest`` (temp file, digest check, fsync, rename): ``dest``
        holds the whole, verified blob or is left untouched. A blob longer than the ``size``
        its descriptor declares stops at ``size + 1`` bytes and fails."""
        op = f"get blob {_short(digest)}"
        where = f"{self._where(repo)}: {op}"
        dest.parent.mkdir(parents=True, exist_ok=True)

        def once() -> None:
            hasher = _hasher(digest, self._where(repo))
            response = self._attempt(
                op,
                repo,
                "GET",
                self._url(repo, "blobs", digest),
                expect=(200,),
                scope=self._pull(repo),
                stream=True,
                follow=True,
            )
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, reporter.task(op, total=size) as task:
                    for piece in _capped(response, size, f"blob {_short(digest)}", where):
                        hasher.update(piece)
                        out.write(piece)
                        task.advance(len(piece))
                    _check_digest(hasher, digest, where)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

        self._retrying(op, repo, once)
        return dest

    # ---- manifests ------------------------------------------------------------------------

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest or index under ``reference`` (a tag or its own digest); returns its
        digest, checked against the registry's ``Docker-Content-Digest``."""
        digest = compute_digest(body)
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(
                f"{self._where(repo)}: manifest body has digest {digest}, not {reference}"
            )
        op = f"put manifest {reference if ':' not in reference else _short(reference)}"
        response = self._call(
            op,
            repo,
            "PUT",
            self._url(repo, "manifests", reference),
            expect=(201, 200),
            scope=self._push(repo),
            body=body,
            headers={"Content-Type": media_type},
        )
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed != digest:
            raise RegistryError(f"{self._where(repo)}: {op}: registry stored it as {echoed}")
        return digest

    def head_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...] = MANIFEST_MEDIA_TYPES
    ) -> str | None:
        """The digest ``reference`` resolves to, or None when the registry has no such
        manifest (e.g. a tag never written)."""
        response = self._call(
            f"check manifest {reference}",
            repo,
            "HEAD",
            self._url(repo, "manifests", reference),
            expect=(200, 404),
            scope=self._pull(repo),
            headers={"Accept": ", ".join(accept)},
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:  # the header is optional: fall back to fetching the bytes
            return self.get_manifest(repo, reference, accept).digest
        return digest

    def get_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...] = MANIFEST_MEDIA_TYPES
    ) -> Manifest:
        """Fetch a manifest or index by tag or digest; the digest is computed from the bytes
        and must match the reference (if a digest) and the registry's header (if sent)."""
        found = self._fetch_manifest(repo, reference, accept, missing_ok=False)
        assert found is not None
        return found

    def find_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...] = MANIFEST_MEDIA_TYPES
    ) -> Manifest | None:
        """``get_manifest``, or None when the registry has no such manifest (404)."""
        return self._fetch_manifest(repo, reference, accept, missing_ok=True)

    def get_referrers(self, repo: str, digest: str) -> Manifest | None:
        """The OCI 1.1 referrers index of ``digest``, or None when the registry has no
        referrers API (it answers 404: the caller falls back to the referrers tag)."""
        _hasher(digest, self._where(repo))
        op = f"list referrers of {_short(digest)}"
        fetched = self._get_document(op, repo, self._url(repo, "referrers", digest),
                                     (OCI_INDEX,), missing_ok=True)
        if fetched is None:
            return None
        response, body = fetched
        return Manifest(body, _media_type(response), compute_digest(body))

    def _get_document(
        self, op: str, repo: str, url: httpx.URL, accept: tuple[str, ...], *, missing_ok: bool
    ) -> tuple[httpx.Response, bytes] | None:
        """GET a manifest-like document, read up to ``MAX_MANIFEST``; None for a 404 when
        ``missing_ok``."""
        where = f"{self._where(repo)}: {op}"

        def once() -> tuple[httpx.Response, bytes] | None:
            response = self._attempt(
                op, repo, "GET", url, expect=(200, 404) if missing_ok else (200,),
                scope=self._pull(repo), headers={"Accept": ", ".join(accept)}, stream=True,
            )
            if response.status_code == 404:
                response.close()
                return None
            return response, _read_capped(response, MAX_MANIFEST, "manifest", where)

        return self._retrying(op, repo, once)

    def _fetch_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...], *, missing_ok: bool
    ) -> Manifest | None:
        op = f"get manifest {reference}"
        where = f"{self._where(repo)}: {op}"
        fetched = self._get_document(op, repo, self._url(repo, "manifests", reference), accept,
                                     missing_ok=missing_ok)
        if fetched is None:
            return None
        response, body = fetched
        sha256 = compute_digest(body)
        digest = sha256
        if _DIGEST.fullmatch(reference):
            hasher = _hasher(reference, where)
            hasher.update(body)
            _check_digest(hasher, reference, where)
            digest = reference
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed.startswith("sha256:") and echoed != sha256:
            raise RegistryError(f"{where}: body does not match Docker-Content-Digest {echoed}")
        return Manifest(body, _media_type(response), digest)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete the manifest ``digest`` from ``repo``, and with it every tag of ``repo`` that
        points at it (other repositories keep theirs). False when it was not there. Deleting
        by tag is not in the distribution API that registries agree on, hence a digest."""
        _hasher(digest, self._where(repo))
        op = f"delete manifest {_short(digest)}"
        response = self._call(
            op,
            repo,
            "DELETE",
            self._url(repo, "manifests", digest),
            expect=(202, 200, 404),
            scope=f"repository:{repo}:delete,pull,push",
        )
        return response.status_code != 404


def _capped(
    response: httpx.Response, limit: int, what: str, where: str = ""
) -> Iterator[bytes]:
    """The pieces of a streamed ``response`` body, refused (``RegistryError``) as soon as it
    is longer than ``limit`` bytes, by its Content-Length or by what arrives; the response is
    closed either way. A connection lost part-way is ``Transient``."""
    declared = response.headers.get("Content-Length", "")
    too_long = f"{where}: {what} is larger than {limit} bytes, refused"
    try:
        if declared.isdigit() and int(declared) > limit:
            raise RegistryError(too_long)
        got = 0
        for piece in response.iter_bytes(_READ_SIZE):
            got += len(piece)
            if got > limit:
                raise RegistryError(too_long)
            yield piece
    except httpx.TransportError as e:
        raise Transient(f"{type(e).__name__} while reading: {e}") from e
    finally:
        response.close()


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _read_capped(response: httpx.Response, limit: int, what: str, where: str = "") -> bytes:
    return b"".join(_capped(response, limit, what, where))


def _check_digest(hasher: hashlib._Hash, digest: str, where: str) -> None:
    got = f"{hasher.name}:{hasher.hexdigest()}"
    if got != digest:
        raise RegistryError(f"{where}: content has digest {got}, expected {digest}")


def _location(response: httpx.Response, op: str, where: str) -> httpx.URL:
    location = response.headers.get("Location")
    if not location:
        raise RegistryError(f"{where}: {op}: HTTP {response.status_code} without a Location")
    return response.request.url.join(location)


def _read_range(
    data: bytes | Path, start: int, length: int, progress: Callable[[int], None]
) -> Iterator[bytes]:
    """Yield ``length`` bytes of ``data`` from ``start``, reporting each piece."""
    if isinstance(data, bytes):
        for offset in range(start, start + length, _READ_SIZE):
            piece = data[offset : min(offset + _READ_SIZE, start + length)]
            progress(len(piece))
            yield piece
        return
    with data.open("rb") as f:
        f.seek(start)
        left = length
        while left:
            piece = f.read(min(_READ_SIZE, left))
            if not piece:
                raise RegistryError(f"{data}: file shrank while being uploaded")
            left -= len(piece)
            progress(len(piece))
            yield piece
