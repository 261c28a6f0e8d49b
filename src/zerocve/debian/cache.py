"""A content-addressed file cache: ``<root>/blobs/sha256/<hex>``.

An entry appears only by ``os.replace`` of a complete, verified temp file, so a concurrent
writer or a writer killed mid-download never leaves a partial entry. Entries are not
fsynced: every reader checks an entry's SHA256 before using it (``verify``: ``RepoClient``
for packages and indices, ``BuildCache`` for blobs), so an entry that a crash left torn on
disk is a miss, fetched or built again, never trusted. Temp files live in ``<root>/tmp/``
(never mistaken for entries); each writer holds an ``flock`` on its temp file, so a temp
whose lock can be taken belongs to a dead writer and is removed.

The cache is bounded (``max_bytes``; the download cache's default is ``DEFAULT_MAX_BYTES``,
``ZEROCVE_DEB_CACHE_MAX`` changes it): after each store the least recently used entries
are deleted (``zerocve._lru``); a hit marks its entry used.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from zerocve._lru import evict, touch
from zerocve.errors import CacheError, IntegrityError

_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_STALE_AFTER_S = 60
DEFAULT_MAX_BYTES = 2 << 30


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cache_error(root: Path, error: OSError) -> CacheError:
    """One line for a cache directory the system refuses to write (read-only, full, not
    ours): where, why, and what to do."""
    return CacheError(
        f"{root}: cannot write to the cache directory: {error.strerror or error}; free space "
        "or set ZEROCVE_CACHE_DIR to a writable directory"
    )


class BlobCache:
    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = root
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        self.blobs = self.root / "blobs" / "sha256"
        self.tmp = self.root / "tmp"
        try:
            self.blobs.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cache_error(self.root, e) from e
        self.clean_stale()

    def path(self, sha256: str) -> Path:
        if not _HEX_RE.match(sha256):
            raise IntegrityError(f"{sha256!r} is not a SHA256 hex digest")
        return self.blobs / sha256

    def get(self, sha256: str) -> Path | None:
        """The entry's path, or None, unchecked: only to know whether it is there; readers
        use ``verify``."""
        path = self.path(sha256)
        if not path.is_file():
            return None
        touch(path)
        return path

    def verify(self, sha256: str, size: int | None = None) -> Path | None:
        """The entry's path if it is present and still matches its size and digest; a
        damaged entry (e.g. truncated on disk) is removed and None returned."""
        path = self.get(sha256)
        if path is None:
            return None
        if (size is None or path.stat().st_size == size) and file_sha256(path) == sha256:
            return path
        path.unlink(missing_ok=True)
        return None

    def put_stream(
        self,
        expected_sha256: str,
        expected_size: int | None,
        chunks: Iterable[bytes],
        what: str = "download",
    ) -> Path:
        """Store ``chunks`` as the entry ``expected_sha256``; IntegrityError naming ``what`` (and
        no file left) when the size or digest differs."""
        target = self.path(expected_sha256)
        tmp = self.tmp / f"{expected_sha256[:16]}.{os.getpid()}.{os.urandom(6).hex()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            raise cache_error(self.root, e) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            digest = hashlib.sha256()
            size = 0
            for chunk in chunks:  # the source's own errors pass through as they are
                digest.update(chunk)
                size += len(chunk)
                if expected_size is not None and size > expected_size:
                    break  # a runaway body: stop reading, report below
                self._write(fd, chunk)
            if expected_size is not None and size != expected_size:
                more = " or more" if size > expected_size else ""
                raise IntegrityError(f"{what}: got {size} bytes{more}, expected {expected_size}")
            if digest.hexdigest() != expected_sha256:
                raise IntegrityError(
                    f"{what}: SHA256 is {digest.hexdigest()}, expected {expected_sha256}"
                )
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise cache_error(self.root, e) from e
            evict(self.blobs, self.max_bytes, keep=target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        return target

    def _write(self, fd: int, data: bytes) -> None:
        """All of ``data`` to the temp file; the cache's file system failing (ENOSPC, EFBIG,
        EIO) is a CacheError naming the cache directory."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError as e:
            raise cache_error(self.root, e) from e

    def clean_stale(self) -> None:
        """Remove temp files whose writer is gone (its lock is free)."""
        for tmp in self.tmp.iterdir():
            try:
                fd = os.open(tmp, os.O_RDONLY)
            except OSError:
                continue  # finished or removed meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            else:
                # A writer locks its file right after creating it; the age check covers
                # that instant.
                if time.time() - os.fstat(fd).st_mtime > _STALE_AFTER_S:
                    tmp.unlink(missing_ok=True)
            finally:
                os.close(fd)
