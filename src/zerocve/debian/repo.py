"""The apt repository client: zerocve's only I/O towards Debian repositories.

For each repository and suite: the InRelease (or Release + Release.gpg) is fetched afresh and
verified with gpgv against the repository's keyring; its Valid-Until is enforced; each
component's ``Packages.xz`` (else ``.gz``, else plain) is checked against the signed SHA256
list. ``.deb`` files are checked against their Packages SHA256. Every verified download lands
in the content-addressed cache, so a warm run downloads nothing but the InRelease files.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256 as _sha256
from pathlib import Path, PurePosixPath
from types import TracebackType
from urllib.parse import quote

import httpx

from zerocve.debian.cache import BlobCache
from zerocve.debian.gpg import verify_clearsigned, verify_detached
from zerocve.debian.http import Fetcher, NotFound
from zerocve.debian.index import IndexFile, Release, parse_packages, parse_release, safe_pool_path
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.errors import IntegrityError, RepositoryError, SignatureError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.spec import RepositorySpec

# Preferred first; each decompressor turns the whole file into bytes.
_COMPRESSIONS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    (".xz", lzma.decompress),
    (".gz", gzip.decompress),
    ("", bytes),
)


FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew forgiven on a Release Date

@dataclass(frozen=True)
class PackageIndex:
    """One verified Packages index, parsed."""

    origin: Origin
    path: str  # below dists/<suite>/, e.g. "main/binary-amd64/Packages.xz"
    sha256: str  # of the file as the Release lists it
    release_sha256: str  # of the verified (In)Release text
    packages: tuple[BinaryPackage, ...]
    date: datetime | None = None  # the Release's Date: a lock's default SOURCE_DATE_EPOCH


@dataclass(frozen=True)
class DebRef:
    """A .deb to fetch, as a Packages stanza or a lock entry names it."""

    uri: str
    filename: str
    size: int
    sha256: str

    @classmethod
    def of(cls, package: BinaryPackage) -> DebRef:
        return cls(package.origin.uri, package.filename, package.size, package.sha256)


def _now() -> datetime:
    return datetime.now(UTC)


class RepoClient:
    """Fetches verified indices and .debs. ``transport`` (httpx) and ``clock`` are injectable;
    ``ignore_valid_until`` accepts expired Release files (e.g. snapshot archives)."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        reporter: Reporter = NULL_REPORTER,
        ignore_valid_until: bool = False,
        clock: Callable[[], datetime] = _now,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.cache = BlobCache(cache_dir)
        self.fetcher = Fetcher(
            transport=transport, reporter=reporter, retries=retries, backoff=backoff
        )
        self.ignore_valid_until = ignore_valid_until
        self.clock = clock

    def close(self) -> None:
        self.fetcher.close()

    def __enter__(self) -> RepoClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- indices ---------------------------------------------------------------------------

    def fetch_indices(self, repos: list[RepositorySpec], arch: str) -> list[PackageIndex]:
        """Every (repository, suite, component) index for ``arch``, verified and parsed, in the
        order the repositories list them."""
        indices: list[PackageIndex] = []
        for repo in repos:
            if repo.keyring is None:
                raise SignatureError(
                    f"{repo.uri}: no keyring to verify it with; name one (keyring:) in the "
                    "spec, or add Signed-By to the apt source"
                )
            for suite in repo.suites:
                release, release_sha256 = self.fetch_release(repo.uri, suite, Path(repo.keyring))
                for component in repo.components:
                    origin = Origin(repo.uri, suite, component, arch)
                    indices.append(self._fetch_index(origin, release, release_sha256))
        return indices

    def fetch_release(self, uri: str, suite: str, keyring: Path) -> tuple[Release, str]:
        """The verified, current Release of ``suite`` and the SHA256 of its signed text."""
        base = f"{uri}/dists/{suite}"
        what = f"{uri} {suite}"
        try:
            text = verify_clearsigned(
                self.fetcher.get_bytes(f"{base}/InRelease"), keyring, f"{base}/InRelease"
            )
        except NotFound:
            try:
                signature = self.fetcher.get_bytes(f"{base}/Release.gpg")
            except NotFound as e:
                raise SignatureError(
                    f"{what}: neither InRelease nor Release.gpg found; unsigned repository"
                ) from e
            text = verify_detached(
                self.fetcher.get_bytes(f"{base}/Release"), signature, keyring, f"{base}/Release"
            )
        release = parse_release(text.decode(errors="replace"), what)
        if not release.names(suite):
            raise RepositoryError(
                f"{what}: Release is for {release.codename or release.suite}, not {suite}"
            )
        now, expiry, issued = self.clock(), release.valid_until, release.date
        if expiry and now > expiry and not self.ignore_valid_until:
            raise RepositoryError(
                f"{what}: Release expired on {expiry.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; "
                "use --ignore-valid-until"
            )
        # As apt does: a Release from the future means a wrong clock here or a forged date.
        if issued and issued - now > FUTURE_TOLERANCE and not self.ignore_valid_until:
            raise RepositoryError(
                f"{what}: Release is not valid yet (dated "
                f"{issued.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC); check this machine's clock, "
                "or use --ignore-valid-until"
            )
        return release, _sha256(text).hexdigest()

    def _fetch_index(self, origin: Origin, release: Release, release_sha256: str) -> PackageIndex:
        stem = f"{origin.component}/binary-{origin.architecture}/Packages"
        what = f"{origin.uri} {origin.suite}"
        found = next(
            ((release.files[stem + suffix], decompress)
             for suffix, decompress in _COMPRESSIONS if stem + suffix in release.files),
            None,
        )  # fmt: skip
        if found is None:
            raise RepositoryError(
                f"{what}: Release lists no {stem}(.xz|.gz); is {origin.architecture} or "
                f"{origin.component} in this suite?"
            )
        listed, decompress = found
        path = self._fetch_listed(origin, release, listed)
        url = f"{origin.uri}/dists/{origin.suite}/{listed.path}"
        try:
            text = decompress(path.read_bytes()).decode(errors="replace")
        except (lzma.LZMAError, OSError, EOFError, zlib.error) as e:
            raise RepositoryError(f"{url}: cannot decompress: {e}") from e
        packages = parse_packages(text, origin, url)
        return PackageIndex(
            origin, listed.path, listed.sha256, release_sha256, packages, release.date
        )

    def _fetch_listed(self, origin: Origin, release: Release, listed: IndexFile) -> Path:
        cached = self.cache.verify(listed.sha256, listed.size)
        if cached is not None:
            return cached
        base = f"{origin.uri}/dists/{origin.suite}"
        url = f"{base}/{listed.path}"
        if release.acquire_by_hash:
            # by-hash names stay valid while a mirror updates; fall back for mirrors without.
            directory = PurePosixPath(listed.path).parent
            try:
                return self._download(
                    f"{base}/{directory}/by-hash/SHA256/{listed.sha256}",
                    listed.size, listed.sha256, url,
                )  # fmt: skip
            except NotFound:
                pass
        return self._download(url, listed.size, listed.sha256, url)

    # -- packages --------------------------------------------------------------------------

    def fetch_deb(self, ref: DebRef | BinaryPackage) -> Path:
        """The cached, verified .deb. A damaged cache entry is removed and fetched once more; a
        download that does not match raises IntegrityError naming the package and URL."""
        if isinstance(ref, BinaryPackage):
            ref = DebRef.of(ref)
        # Filenames are paths, not URL text: a pool name may hold '%' (apt-get download saves
        # epochs as '%3a'), which must reach the server or the file system as written.
        url = f"{ref.uri}/{quote(ref.filename, safe='/+~:')}"
        if not safe_pool_path(ref.filename):
            raise IntegrityError(f"{url}: unsafe Filename {ref.filename!r}")
        cached = self.cache.verify(ref.sha256, ref.size)
        if cached is not None:
            return cached
        name = PurePosixPath(ref.filename).name
        return self._download(url, ref.size, ref.sha256, f"{name} from {url}", label=name)

    def fetch_debs(self, refs: Iterable[DebRef | BinaryPackage], workers: int = 4) -> list[Path]:
        """``fetch_deb`` for each, a few at a time; paths in the order given."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.fetch_deb, refs))

    def _download(
        self, url: str, size: int, sha256: str, what: str, label: str | None = None
    ) -> Path:
        return self.fetcher.fetch(
            url,
            lambda chunks: self.cache.put_stream(sha256, size, chunks, what=what),
            description=label or PurePosixPath(url).name,
            total=size,
        )
