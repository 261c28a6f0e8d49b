"""The apt repository client: zerocve's only I/O towards Debian repositories.

For each repository and suite: the InRelease (or Release + Release.gpg) is fetched afresh and
verified with gpgv against the repository's keyring; its Valid-Until is enforced; each
component's ``Packages.gz`` (else ``.xz``, else plain) is checked against the signed SHA256
list, then read by name as the resolver asks (``zerocve.debian.catalog``). ``.deb`` files are
checked against their Packages SHA256. Every verified download lands
in the content-addressed cache, so a warm run downloads nothing but the InRelease files.

Each verified Release is kept (``release_store``), and a Release older than the newest one seen
from the same repository is refused. A lock pins indices by hash (``IndexPin``); they are
verified again from the kept Release, offline, with the keyring the spec names.
"""

from __future__ import annotations

import functools
import lzma
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256 as _sha256
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from zerocve.debian.apt_auth import NO_LOGINS, AptLogins
from zerocve.debian.cache import BlobCache
from zerocve.debian.catalog import Catalog, TextCatalog
from zerocve.debian.gpg import verify_clearsigned, verify_detached
from zerocve.debian.http import Fetcher, NotFound
from zerocve.debian.index import IndexFile, Release, parse_release, safe_pool_path
from zerocve.debian.index_cache import ParsedIndexCache, entry_key
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.release_store import ReleaseStore, SignedRelease
from zerocve.debian.releases import DebianRelease
from zerocve.debian.resolve import forget_universes
from zerocve.errors import IntegrityError, RepositoryError, SignatureError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.spec import RepositorySpec

if TYPE_CHECKING:
    from zerocve.cache_seal import CacheSeal

class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


# Preferred first, with a maker of a streaming decompressor (None: stored as is). gzip before
# xz: bookworm's main index is 12.1 MB gzipped and 8.8 MB in xz, but zlib inflates its 50 MB
# in a third of the time lzma takes, which outweighs fetching 3.3 MB more from a mirror.
_COMPRESSIONS: dict[str, Callable[[], _Decompressor] | None] = {
    ".gz": lambda: zlib.decompressobj(wbits=31),  # the gzip container
    ".xz": lzma.LZMADecompressor,
    "": None,
}
_READ_CHUNK = 1 << 16  # compressed bytes read at once
# The most text an index may inflate to (Debian's largest is some 70 MB): a bound on what a
# compressed file, which is small, may make this process hold.
MAX_INDEX_TEXT = 1 << 30


FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew forgiven on a Release Date
_SUITE_WORKERS = 4  # suites fetched at once (a mirror is asked for a few files at a time)

@dataclass(frozen=True)
class PackageIndex:
    """One verified Packages index, read by name (``catalog``) or whole (``packages``)."""

    origin: Origin
    path: str  # below dists/<suite>/, e.g. "main/binary-amd64/Packages.gz"
    sha256: str  # of the file as the Release lists it
    release_sha256: str  # of the verified (In)Release text
    catalog: Catalog
    date: datetime | None = None  # the Release's Date: a lock's default SOURCE_DATE_EPOCH
    release: DebianRelease | None = None  # the Debian release the Release names

    @property
    def packages(self) -> tuple[BinaryPackage, ...]:
        """Every package of the index (parsed, or kept parsed, on first use)."""
        return self.catalog.all()


# Every index this process holds, by what it is, while anything holds it: a build verifying
# the lock that was just resolved (the fleet's next image, a second client) is given the very
# same object, and so the resolver's universe built over its packages. Once nothing holds an
# index, it, its packages and that universe are freed: a command that has verified its lock
# does not carry a whole Debian index through the image build.
_LIVE: weakref.WeakValueDictionary[tuple[Origin, str, str], PackageIndex] = (
    weakref.WeakValueDictionary())


@dataclass(frozen=True)
class IndexPin:
    """A Packages index as a lock pins it: by its hash and that of the Release listing it."""

    origin: Origin
    path: str  # below dists/<suite>/
    sha256: str
    release_sha256: str


@dataclass(frozen=True)
class ReleaseCheck:
    """A conditional look at a suite's Release: ``release`` None when the server said it is
    unchanged since the validators given; else the verified Release, the SHA256 of its signed
    text and the validators to send next time."""

    release: Release | None
    sha256: str
    etag: str
    last_modified: str


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


class _Inflater:
    """The text of an index file, decompressed as its bytes come (from the cache or while
    they download) into one growing buffer: a full Debian index is 50 MB, never held twice,
    as joining pieces would. Concatenated streams (xz) or members (gzip) are read on, as
    ``lzma.decompress`` and ``gzip.decompress`` would. A failure is kept for ``text`` to
    raise, so that a download that does not match its SHA256 is reported as that first."""

    def __init__(self, compression: str) -> None:
        self._make = _COMPRESSIONS[compression]
        self._stream = self._make() if self._make else None
        self._fresh = True  # the current stream has been given no input yet
        self._text = bytearray()
        self._error: Exception | None = None

    def feed(self, data: bytes) -> None:
        if self._error is not None:
            return
        try:
            while data:
                if self._stream is None or self._make is None:
                    self._text += data
                    break
                self._fresh = False
                self._text += self._stream.decompress(data)
                data = b""
                if self._stream.eof:
                    data, self._stream, self._fresh = self._stream.unused_data, self._make(), True
            if len(self._text) > MAX_INDEX_TEXT:
                raise ValueError(f"it inflates to over {MAX_INDEX_TEXT} bytes")
        except (lzma.LZMAError, zlib.error, ValueError) as e:
            self._error, self._text = e, bytearray()

    def passing(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks`` as they are, each fed here on its way."""
        for chunk in chunks:
            self.feed(chunk)
            yield chunk

    def text(self) -> bytearray:
        if self._error is not None:
            raise self._error
        if self._stream is not None and not self._stream.eof and not self._fresh:
            raise EOFError("the compressed data ends early")
        return self._text


def _decompressed(path: Path, compression: str) -> bytearray:
    """The decompressed text of the index file at ``path``."""
    inflater = _Inflater(compression)
    with path.open("rb") as f:
        while data := f.read(_READ_CHUNK):
            inflater.feed(data)
    return inflater.text()


def _now() -> datetime:
    return datetime.now(UTC)


def keyring_of(repo: RepositorySpec) -> Path:
    """The keyring a repository is verified with; none is a SignatureError (fail closed)."""
    if repo.keyring is None:
        raise SignatureError(
            f"{repo.uri}: no keyring to verify it with; name one (keyring:) in the "
            "spec, or add Signed-By to the apt source"
        )
    return Path(repo.keyring)


class RepoClient:
    """Fetches verified indices and .debs. ``clock`` is injectable; ``proxies`` are
    ``Settings.proxies``; ``logins`` come from apt's login files (``zerocve.api.repo_client``);
    ``ignore_valid_until`` accepts expired Release files (e.g. snapshot archives); the bounds
    of the .deb and parsed-index caches default to theirs when None; parsed indices are kept
    on disk only with a ``seal`` (``Settings.cache_seal``)."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        reporter: Reporter = NULL_REPORTER,
        ignore_valid_until: bool = False,
        clock: Callable[[], datetime] = _now,
        retries: int = 4,
        backoff: float = 0.5,
        deb_cache_max: int | None = None,
        index_cache_max: int | None = None,
        seal: CacheSeal | None = None,
        proxies: tuple[tuple[str, str], ...] = (),
        logins: AptLogins = NO_LOGINS,
    ) -> None:
        self.cache = BlobCache(cache_dir, deb_cache_max)
        self.releases = ReleaseStore(self.cache.root)
        self.parsed = ParsedIndexCache(self.cache.root, seal, index_cache_max)
        # Indices parsed so far (a build verifies the ones its lock was just resolved from).
        self._parsed: dict[tuple[Origin, str, str], PackageIndex] = {}
        # Index texts decompressed as they downloaded, by SHA256, until read.
        self._texts: dict[str, bytearray] = {}
        # Pinned Releases verified so far: (uri, suite, release SHA256, keyring) -> Release.
        self._pinned: dict[tuple[str, str, str, str | None], tuple[Release, str]] = {}
        self.fetcher = Fetcher(reporter=reporter, retries=retries, backoff=backoff,
                               proxies=proxies, logins=logins)
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
        order the repositories list them. Suites are fetched a few at a time (one's download
        overlaps another's signature check), then parsed here, one after the other: a parse
        on a worker thread would leave its transient strings in that thread's own malloc
        arena, some 15 MB more at the peak for a full Debian index."""
        suites = [(repo, keyring_of(repo), suite) for repo in repos for suite in repo.suites]

        def fetched(item: tuple[RepositorySpec, Path, str]) -> tuple[Release, str]:
            repo, keyring, suite = item
            release, release_sha256 = self.fetch_release(repo.uri, suite, keyring)
            for component in repo.components:
                self._prefetch(Origin(repo.uri, suite, component, arch), release, release_sha256)
            return release, release_sha256

        if len(suites) == 1:
            releases = [fetched(suites[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(len(suites), _SUITE_WORKERS)) as pool:
                releases = list(pool.map(fetched, suites))
        return [
            self._fetch_index(Origin(repo.uri, suite, component, arch), release, release_sha256)
            for (repo, _, suite), (release, release_sha256) in zip(suites, releases, strict=True)
            for component in repo.components
        ]

    def _prefetch(self, origin: Origin, release: Release, release_sha256: str) -> None:
        """Download the index of ``origin`` unless this process holds it already."""
        listed, compression = self._listed(origin, release)
        if (origin, listed.sha256, release_sha256) not in _LIVE:
            self._texts[listed.sha256] = self._index_text(origin, release, listed, compression)

    def fetch_release(self, uri: str, suite: str, keyring: Path) -> tuple[Release, str]:
        """The verified, current Release of ``suite`` and the SHA256 of its signed text; kept
        for locked builds, and never older than one seen before from the same repository."""
        checked = self.check_release(uri, suite, keyring)
        assert checked.release is not None  # no validators were given: always fetched
        return checked.release, checked.sha256

    def check_release(
        self, uri: str, suite: str, keyring: Path, *, etag: str = "", last_modified: str = ""
    ) -> ReleaseCheck:
        """``fetch_release`` as a conditional request: with the validators of the last
        InRelease seen, a server that has nothing newer answers 304 and nothing is read or
        verified (``release`` None). Whatever is read is verified and kept as always."""
        base = f"{uri}/dists/{suite}"
        what = f"{uri} {suite}"
        validators = ("", "")
        try:
            got = self.fetcher.get_if_changed(f"{base}/InRelease", etag, last_modified)
            if got.body is None:
                return ReleaseCheck(None, "", etag, last_modified)
            signed = SignedRelease(inrelease=got.body)
            validators = (got.etag, got.last_modified)
        except NotFound:
            try:
                signature = self.fetcher.get_bytes(f"{base}/Release.gpg")
            except NotFound as e:
                raise SignatureError(
                    f"{what}: neither InRelease nor Release.gpg found; unsigned repository"
                ) from e
            signed = SignedRelease(release=self.fetcher.get_bytes(f"{base}/Release"),
                                   signature=signature)
        release, release_sha256 = self._verified(signed, uri, suite, keyring)
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
        if issued:
            self.releases.advance(uri, suite, issued, what)
        self.releases.keep(uri, suite, release_sha256, signed)
        return ReleaseCheck(release, release_sha256, *validators)

    def _verified(
        self, signed: SignedRelease, uri: str, suite: str, keyring: Path
    ) -> tuple[Release, str]:
        """The Release ``signed`` holds once gpgv verifies it, and the SHA256 of its text."""
        base, what = f"{uri}/dists/{suite}", f"{uri} {suite}"
        if signed.inrelease is not None:
            text = verify_clearsigned(signed.inrelease, keyring, f"{base}/InRelease")
        else:
            assert signed.release is not None and signed.signature is not None
            text = verify_detached(signed.release, signed.signature, keyring, f"{base}/Release")
        release = parse_release(text.decode(errors="replace"), what)
        if not release.names(suite):
            raise RepositoryError(
                f"{what}: Release is for {release.codename or release.suite}, not {suite}"
            )
        return release, _sha256(text).hexdigest()

    def fetch_pinned_index(self, pin: IndexPin, repo: RepositorySpec) -> PackageIndex:
        """The index a lock pins, verified: its Release (kept from when it was fetched, else the
        one the repository serves now) must verify against ``repo``'s keyring and hash to
        ``pin.release_sha256``, and must list the index with ``pin.sha256``. Works offline
        while the cache holds both."""
        o = pin.origin
        key = (o.uri, o.suite, pin.release_sha256, repo.keyring)
        if key not in self._pinned:
            keyring = keyring_of(repo)
            kept = self.releases.load(o.uri, o.suite, pin.release_sha256)
            if kept is not None:
                self._pinned[key] = self._verified(kept, o.uri, o.suite, keyring)
            else:
                self._pinned[key] = self.fetch_release(o.uri, o.suite, keyring)
        release, release_sha256 = self._pinned[key]
        if release_sha256 != pin.release_sha256:
            raise RepositoryError(
                f"{o.uri} {o.suite}: the Release the lock was made from (SHA256 "
                f"{pin.release_sha256[:12]}…) is neither kept in the cache nor served any more"
            )
        listed = release.files.get(pin.path)
        if listed is None or listed.sha256 != pin.sha256:
            raise RepositoryError(
                f"{o.uri} {o.suite}: the signed Release does not list {pin.path} with SHA256 "
                f"{pin.sha256[:12]}…"
            )
        return self._fetch_index(o, release, release_sha256, listed)

    def _fetch_index(
        self, origin: Origin, release: Release, release_sha256: str,
        listed: IndexFile | None = None,
    ) -> PackageIndex:
        """The index of ``origin`` the Release lists: ``listed``, else the best compression."""
        listed, compression = self._listed(origin, release, listed)
        key = (origin, listed.sha256, release_sha256)
        index = self._parsed.get(key) or _LIVE.get(key)
        if index is None:
            # The whole listing, if ever asked for, is parsed once for any process.
            stored = entry_key(listed.sha256, compression, origin.architecture)
            catalog = TextCatalog(
                self._index_text(origin, release, listed, compression), origin,
                f"{origin.uri}/dists/{origin.suite}/{listed.path}",
                load=functools.partial(self.parsed.load, stored, origin),
                store=functools.partial(self.parsed.store, stored, origin),
            )
            index = PackageIndex(
                origin, listed.path, listed.sha256, release_sha256, catalog, release.date,
                release.debian,
            )
            _LIVE[key] = index
            weakref.finalize(index, forget_universes, catalog).atexit = False
        self._parsed[key] = index
        return index

    def _listed(self, origin: Origin, release: Release, listed: IndexFile | None = None
                ) -> tuple[IndexFile, str]:
        """The index of ``origin`` the Release lists (``listed``, else the best compression)
        and its compression suffix."""
        stem = f"{origin.component}/binary-{origin.architecture}/Packages"
        what = f"{origin.uri} {origin.suite}"
        if listed is None:
            listed = next(
                (release.files[stem + suffix]
                 for suffix in _COMPRESSIONS if stem + suffix in release.files),
                None,
            )  # fmt: skip
        if listed is None:
            raise RepositoryError(
                f"{what}: Release lists no {stem}(.xz|.gz); is {origin.architecture} or "
                f"{origin.component} in this suite?"
            )
        compression = next((suffix for suffix in _COMPRESSIONS if listed.path == stem + suffix),
                           None)
        if compression is None:
            raise RepositoryError(f"{what}: {listed.path} is not a Packages index of {origin}")
        return listed, compression

    def _index_text(
        self, origin: Origin, release: Release, listed: IndexFile, compression: str
    ) -> bytearray:
        """The decompressed text of the verified index file ``listed``: from the cache, else
        decompressed while it downloads (the text is used only once the download's SHA256
        checks out)."""
        text = self._texts.pop(listed.sha256, None)
        if text is not None:
            return text
        url = f"{origin.uri}/dists/{origin.suite}/{listed.path}"
        inflaters: list[_Inflater] = []

        def inflating(chunks: Iterable[bytes]) -> Iterator[bytes]:
            inflaters.append(_Inflater(compression))  # one for each attempt
            return inflaters[-1].passing(chunks)

        cached = self.cache.verify(listed.sha256, listed.size)
        try:
            if cached is not None:
                return _decompressed(cached, compression)
            self._fetch_listed(origin, release, listed, inflating)
            return inflaters[-1].text()
        except (lzma.LZMAError, OSError, EOFError, zlib.error, ValueError) as e:
            raise RepositoryError(f"{url}: cannot decompress: {e}") from e

    def _fetch_listed(
        self, origin: Origin, release: Release, listed: IndexFile,
        through: Callable[[Iterable[bytes]], Iterable[bytes]],
    ) -> None:
        """Download the index file ``listed`` into the cache, its bytes passing ``through``."""
        base = f"{origin.uri}/dists/{origin.suite}"
        url = f"{base}/{listed.path}"
        if release.acquire_by_hash:
            # by-hash names stay valid while a mirror updates; fall back for mirrors without.
            directory = PurePosixPath(listed.path).parent
            try:
                self._download(f"{base}/{directory}/by-hash/SHA256/{listed.sha256}",
                               listed.size, listed.sha256, url, through=through)
                return
            except NotFound:
                pass
        self._download(url, listed.size, listed.sha256, url, through=through)

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
        self, url: str, size: int, sha256: str, what: str, label: str | None = None,
        through: Callable[[Iterable[bytes]], Iterable[bytes]] = lambda chunks: chunks,
    ) -> Path:
        """``url`` into the cache, checked; its bytes pass ``through`` on their way."""
        return self.fetcher.fetch(
            url,
            lambda chunks: self.cache.put_stream(sha256, size, through(chunks), what=what),
            description=label or PurePosixPath(url).name,
            total=size,
        )
