"""What the repository client remembers of the Release files it verified, per repository.

``<cache>/releases/<key>/``, one directory per (uri, suite), ``key`` a digest of both:

* ``<sha256>.InRelease`` (or ``<sha256>.Release`` with ``<sha256>.Release.gpg``): the signed
  files as fetched, named by the SHA256 of their signed text (a lock's ``release_sha256``). A
  locked build reads them back and verifies them again against the spec's keyring, so it needs
  neither the network nor a repository that still serves that Release.
* ``newest-date``: the newest Release Date accepted from the repository, in seconds. An older
  one is refused: a mirror replaying a stale but still valid Release (a freeze or rollback
  attack, which TUF guards against and apt does not) would silently take fixes back.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve.debian.cache import cache_error
from zerocve.errors import RepositoryError

_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SignedRelease:
    """A Release as a repository serves it: an InRelease, or a Release and its Release.gpg."""

    inrelease: bytes | None = None
    release: bytes | None = None
    signature: bytes | None = None

    def files(self) -> dict[str, bytes]:
        named = {"InRelease": self.inrelease, "Release": self.release,
                 "Release.gpg": self.signature}
        return {name: data for name, data in named.items() if data is not None}


class ReleaseStore:
    def __init__(self, cache_root: Path) -> None:
        self.cache_root = cache_root
        self.root = cache_root / "releases"

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write the system refuses (a full or read-only cache) is the cache's one line,
        whichever of the cache's files a build happened to write first."""
        try:
            yield
        except OSError as e:
            raise cache_error(self.cache_root, e) from e
        except RepositoryError as e:  # write_atomic's wording of an OSError
            if isinstance(e.__cause__, OSError):
                raise cache_error(self.cache_root, e.__cause__) from e.__cause__
            raise

    def _dir(self, uri: str, suite: str) -> Path:
        key = hashlib.sha256(f"{uri}\n{suite}".encode()).hexdigest()[:32]
        return self.root / key

    def keep(self, uri: str, suite: str, release_sha256: str, signed: SignedRelease) -> None:
        """Store a verified Release under the SHA256 of its signed text (once)."""
        directory = self._dir(uri, suite)
        with self._writing():
            directory.mkdir(parents=True, exist_ok=True)
            for name, data in signed.files().items():
                path = directory / f"{release_sha256}.{name}"
                if not path.exists():
                    write_atomic(path, data, error=RepositoryError,
                                 what="cannot keep the verified Release")

    def kept_paths(self, uri: str, suite: str, release_sha256: str) -> dict[str, Path]:
        """Where a Release whose signed text has this SHA256 is kept, by file name
        (``SignedRelease.files``), whether it is there or not: ``load`` reads nothing else."""
        directory = self._dir(uri, suite)
        return {name: directory / f"{release_sha256}.{name}"
                for name in ("InRelease", "Release", "Release.gpg")}

    def load(self, uri: str, suite: str, release_sha256: str) -> SignedRelease | None:
        """The stored Release whose signed text has this SHA256, unverified; None if absent."""
        if not _HEX_RE.match(release_sha256):
            return None
        paths = self.kept_paths(uri, suite, release_sha256)

        def read(name: str) -> bytes | None:
            path = paths[name]
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as e:
                raise RepositoryError(f"{path}: cannot read kept Release: {e.strerror}") from e

        inrelease = read("InRelease")
        if inrelease is not None:
            return SignedRelease(inrelease=inrelease)
        release, signature = read("Release"), read("Release.gpg")
        if release is None or signature is None:
            return None
        return SignedRelease(release=release, signature=signature)

    def advance(self, uri: str, suite: str, date: datetime, what: str) -> None:
        """Record ``date`` as the repository's newest Release Date, or raise RepositoryError
        when a newer one was accepted before (a replayed Release)."""
        directory = self._dir(uri, suite)
        newest = directory / "newest-date"
        seconds = int(date.timestamp())
        with self._writing():
            directory.mkdir(parents=True, exist_ok=True)
            marker = (directory / "newest-date.lock").open("w")
        # One process at a time reads and raises the mark, or two could lower it.
        with marker as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                text = newest.read_text().strip()
            except FileNotFoundError:
                text = ""
            seen = int(text) if text.isdigit() else None
            if seen is not None and seconds < seen:
                raise RepositoryError(
                    f"{what}: Release dated {date.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC is older "
                    f"than the {datetime.fromtimestamp(seen, UTC):%Y-%m-%d %H:%M:%S} UTC one "
                    "already seen: the mirror replays an old Release (rollback); use another "
                    f"mirror, or remove {newest} if the repository was really reset"
                )
            if seen is None or seconds > seen:
                with self._writing():
                    write_atomic(newest, f"{seconds}\n".encode(), error=RepositoryError,
                                 what="cannot record the newest Release date")
