"""The repository client against real signed repositories: .debs built with dpkg-deb, indices
by apt-ftparchive, signatures by gpg, served from disk (file://) and over http on 127.0.0.1."""

from __future__ import annotations

import gc
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.aptrepo import AptRepo, SigningKey, make_deb, resign
from zerocve.cache_seal import CacheSeal
from zerocve.debian import catalog as catalog_module
from zerocve.debian import repo as repo_module
from zerocve.debian import resolve as resolve_module
from zerocve.debian.model import Origin
from zerocve.debian.repo import DebRef, RepoClient, _decompressed
from zerocve.errors import FetchError, IntegrityError, RepositoryError, SignatureError
from zerocve.progress import Reporter, Task
from zerocve.spec import RepositorySpec

SUITE = "bookworm"
SEAL = CacheSeal(b"this machine's seal key, 32 byte")
OTHER_SEAL = CacheSeal(b"another machine's key, 32 bytes!")
INDEX = "main/binary-amd64/Packages"


def _kill_agent(key: SigningKey) -> None:
    subprocess.run(
        ["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(key.home)}, check=False
    )


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    where = tmp_path_factory.mktemp("debs")
    return [
        make_deb(where, "hello-lib", "1.0-1", **{"Multi-Arch": "same"}),
        make_deb(
            where,
            "hello",
            "2:1.0-1+b1",
            Source="hello-src (1.0-1)",
            Depends="hello-lib (>= 1.0), libc6 | musl",
        ),
    ]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    key = SigningKey.create(tmp_path_factory.mktemp("gnupg"))
    yield key
    _kill_agent(key)


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    key = SigningKey.create(tmp_path_factory.mktemp("gnupg-other"), uid="stranger <s@x.invalid>")
    yield key
    _kill_agent(key)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, key: SigningKey, debs: list[Path]) -> Path:
    repo = AptRepo(root=tmp_path_factory.mktemp("repo"), key=key, suites=[SUITE])
    repo.publish(debs, SUITE)
    return repo.root


@pytest.fixture
def repo(tmp_path: Path, pristine: Path, key: SigningKey) -> AptRepo:
    """A fresh copy of the signed repository, for a test to tamper with."""
    root = tmp_path / "repo"
    shutil.copytree(pristine, root)
    return AptRepo(root=root, key=key, suites=[SUITE])


@pytest.fixture
def client(tmp_path: Path) -> Iterator[RepoClient]:
    with RepoClient(tmp_path / "cache", backoff=0.01, seal=SEAL) as c:
        yield c


def spec(uri: str, keyring: Path | None) -> RepositorySpec:
    return RepositorySpec(
        uri=uri, suites=[SUITE], components=["main"], keyring=str(keyring) if keyring else None
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Server:
    """A static file server on 127.0.0.1 that records requests and can fail on purpose:
    ``faults[path]`` is a list of actions taken on the next requests ("500", "429", "drop",
    "404")."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        self.faults: dict[str, list[str]] = {}
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                pending = server.faults.get(self.path)
                action = pending.pop(0) if pending else None
                if action in ("500", "404"):
                    self.send_error(int(action))
                elif action == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "3")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif action == "drop":  # promise the whole body, send half, hang up
                    body = (root / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(repo: AptRepo) -> Iterator[Server]:
    s = Server(repo.root)
    yield s
    s.close()


# -- a valid repository --------------------------------------------------------------------


def check_index(repo: AptRepo, debs: list[Path], uri: str, client: RepoClient) -> None:
    (index,) = client.fetch_indices([spec(uri, repo.keyring)], "amd64")
    dist = repo.root / "dists" / SUITE
    assert index.origin == Origin(uri, SUITE, "main", "amd64")
    assert index.path == f"{INDEX}.gz"  # gzip before xz: faster to read whole
    assert index.sha256 == sha256(dist / f"{INDEX}.gz")
    assert index.release_sha256 == sha256(dist / "Release")  # what gpgv verified
    assert index.date == datetime(2026, 11, 1, tzinfo=UTC)  # the Release's Date
    by_name = {p.name: p for p in index.packages}
    assert sorted(by_name) == ["hello", "hello-lib"]
    hello, lib = by_name["hello"], by_name["hello-lib"]
    assert (hello.version, hello.source, hello.source_version) == (
        "2:1.0-1+b1",
        "hello-src",
        "1.0-1",
    )
    assert hello.depends == "hello-lib (>= 1.0), libc6 | musl"
    assert lib.multi_arch == "same" and lib.origin == index.origin
    for package, deb in zip((lib, hello), debs, strict=True):
        assert (package.size, package.sha256) == (deb.stat().st_size, sha256(deb))
        assert client.fetch_deb(package).read_bytes() == deb.read_bytes()


def test_file_repository(repo: AptRepo, debs: list[Path], client: RepoClient) -> None:
    check_index(repo, debs, repo.uri, client)


def test_http_repository_and_warm_run(
    repo: AptRepo, debs: list[Path], client: RepoClient, server: Server, tmp_path: Path
) -> None:
    check_index(repo, debs, server.uri, client)
    assert sorted(server.requests) == sorted(
        [
            f"/dists/{SUITE}/InRelease",
            f"/dists/{SUITE}/{INDEX}.gz",
            "/pool/bookworm/hello-lib_1.0-1_amd64.deb",
            "/pool/bookworm/hello_2:1.0-1+b1_amd64.deb",
        ]
    )
    server.requests.clear()
    with RepoClient(tmp_path / "cache", seal=SEAL) as warm:  # a new client on the same cache
        (index,) = warm.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
        warm.fetch_debs(index.packages)
    assert server.requests == [f"/dists/{SUITE}/InRelease"]  # only the signature is fresh


@pytest.fixture
def forget_parsed(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Forgets the parsed indices this process holds in memory, as a new process would."""
    return lambda: monkeypatch.setattr(repo_module, "_LIVE", weakref.WeakValueDictionary())


def test_the_whole_listing_is_parsed_once_for_every_process(
    repo: AptRepo, client: RepoClient, server: Server, tmp_path: Path,
    forget_parsed: Callable[[], None], monkeypatch: pytest.MonkeyPatch,
) -> None:
    (first,) = client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    listing = first.packages
    server.requests.clear()
    forget_parsed()
    monkeypatch.setattr(catalog_module, "parse_packages", None)  # a parse would fail
    with RepoClient(tmp_path / "cache", seal=SEAL) as warm:
        (again,) = warm.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
        assert again.packages == listing and again.sha256 == first.sha256
    assert server.requests == [f"/dists/{SUITE}/InRelease"]  # the index came from the cache


def test_an_index_is_shared_while_held_and_freed_with_its_universe(
    repo: AptRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second client is given the index a first one still holds (so the universe built over
    it is found again); once nothing holds it, the index and that universe are let go."""
    monkeypatch.setattr(resolve_module, "_UNIVERSES", resolve_module._Universes(size=4))
    with RepoClient(tmp_path / "cache") as first:
        (index,) = first.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    with RepoClient(tmp_path / "cache") as second:
        (again,) = second.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert again is index
    resolve_module.resolve_in(["hello-lib"], [index.catalog], "amd64")
    assert len(resolve_module._UNIVERSES._kept) == 1
    held = weakref.ref(index)
    del index, again, first, second
    gc.collect()
    assert held() is None
    assert not resolve_module._UNIVERSES._kept and not repo_module._LIVE


def _damage(entry: Path, how: str) -> None:
    data = entry.read_bytes()
    if how == "edited":  # a version changed in place: same length, header untouched
        entry.write_bytes(data.replace(b"1.0-1", b"6.6-6", 1))
    elif how == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif how in ("planted", "another key"):
        # Rewritten whole by someone who writes the cache directory: a version changed and
        # the trailer recomputed, as a checksum; or sealed, but on another machine.
        magic, count, rest = data.split(b"\n", 2)
        payload = rest[:-66].replace(b"1.0-1", b"6.6-6", 1)
        mac = OTHER_SEAL.stream(entry.name.encode())
        mac.update(payload)
        trailer = hashlib.sha256(payload) if how == "planted" else mac
        entry.write_bytes(b"\n".join([magic, count, payload + b"\n" + trailer.hexdigest().encode(),
                                      b""]))
    elif how == "bad count":
        magic, _, rest = data.split(b"\n", 2)
        entry.write_bytes(magic + b"\n5\n" + rest)
    else:
        entry.write_bytes(b"not an entry at all")


@pytest.mark.parametrize("how", ["edited", "truncated", "planted", "another key", "bad count",
                                 "garbage"])
def test_a_damaged_parsed_index_is_parsed_again_never_trusted(
    repo: AptRepo, client: RepoClient, tmp_path: Path, forget_parsed: Callable[[], None],
    how: str,
) -> None:
    (first,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert first.packages  # the whole listing, parsed and kept
    (entry,) = (tmp_path / "cache" / "indices").iterdir()
    kept = entry.read_bytes()
    _damage(entry, how)
    assert entry.read_bytes() != kept
    forget_parsed()
    with RepoClient(tmp_path / "cache", seal=SEAL) as again:
        (second,) = again.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert second.packages == first.packages
    assert {p.version for p in second.packages} == {"1.0-1", "2:1.0-1+b1"}
    assert entry.read_bytes() == kept  # rebuilt from the index, as it was


def test_an_index_whose_values_cannot_be_kept_is_parsed_each_time(
    repo: AptRepo, client: RepoClient, tmp_path: Path, forget_parsed: Callable[[], None],
) -> None:
    """A kept field on two lines holds a newline, which ends a record in the parsed-index
    cache: such an index is not kept (nor kept wrongly), and is parsed again each time."""
    binary = repo.root / "dists" / SUITE / "main" / "binary-amd64"
    text = (binary / "Packages").read_text().replace(
        "Package: hello\n", "Package: hello\nPriority: optional\n on two lines\n")
    (binary / "Packages").write_text(text)
    (binary / "Packages.xz").write_bytes(lzma.compress(text.encode()))
    (binary / "Packages.gz").write_bytes(gzip.compress(text.encode()))
    repo.release(SUITE)
    (first,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert {p.priority for p in first.packages} == {"optional", "optional\n on two lines"}
    assert not list((tmp_path / "cache" / "indices").iterdir())
    forget_parsed()
    with RepoClient(tmp_path / "cache", seal=SEAL) as again:
        (second,) = again.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert second.packages == first.packages


@pytest.mark.parametrize("over", ["file", "http"])
def test_release_and_release_gpg_when_no_inrelease(
    repo: AptRepo, debs: list[Path], client: RepoClient, server: Server, over: str
) -> None:
    (repo.root / "dists" / SUITE / "InRelease").unlink()
    check_index(repo, debs, repo.uri if over == "file" else server.uri, client)


def test_armored_keyring(
    repo: AptRepo, key: SigningKey, client: RepoClient, tmp_path: Path
) -> None:
    armored = tmp_path / "archive.asc"
    armored.write_bytes(
        subprocess.run(
            ["gpg", "--batch", "--armor", "--export", key.fingerprint],
            env={**os.environ, "GNUPGHOME": str(key.home)},
            check=True,
            capture_output=True,
        ).stdout
    )
    assert armored.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    (index,) = client.fetch_indices([spec(repo.uri, armored)], "amd64")
    assert len(index.packages) == 2


@pytest.mark.parametrize("kept", [".xz", ""])
def test_xz_or_plain_index_when_release_lists_no_gz(
    repo: AptRepo, client: RepoClient, kept: str
) -> None:
    def only(text: str) -> str:
        return "".join(
            line
            for line in text.splitlines(keepends=True)
            if "binary-amd64/Packages" not in line or line.rstrip().endswith(f"Packages{kept}")
        )

    resign(repo, only)
    (index,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert index.path == INDEX + kept
    assert len(index.packages) == 2


@pytest.mark.parametrize(
    ("suffix", "pack"),
    [
        (".xz", lambda half: lzma.compress(half)),
        (".gz", lambda half: gzip.compress(half, mtime=0)),
    ],
)
def test_an_index_is_decompressed_as_a_stream(
    repo: AptRepo, tmp_path: Path, suffix: str, pack: Callable[[bytes], bytes]
) -> None:
    """Several xz streams or gzip members are read on, as a whole-file decompressor does; a
    file cut short is an error, not a shorter index."""
    text = (repo.root / "dists" / SUITE / INDEX).read_bytes()
    middle = text.index(b"\n\n") + 2
    packed = pack(text[:middle]) + pack(text[middle:])
    path = tmp_path / f"Packages{suffix}"
    path.write_bytes(packed)
    assert _decompressed(path, suffix) == text
    path.write_bytes(packed[:-9])
    with pytest.raises((EOFError, lzma.LZMAError, zlib.error)):
        _decompressed(path, suffix)


def test_by_hash_when_release_asks_for_it(
    repo: AptRepo, client: RepoClient, server: Server
) -> None:
    digest = sha256(repo.root / "dists" / SUITE / f"{INDEX}.gz")
    by_hash = repo.root / "dists" / SUITE / "main" / "binary-amd64" / "by-hash" / "SHA256"
    by_hash.mkdir(parents=True)
    shutil.copyfile(repo.root / "dists" / SUITE / f"{INDEX}.gz", by_hash / digest)
    resign(repo, lambda text: text.replace("Origin:", "Acquire-By-Hash: yes\nOrigin:"))
    client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    assert f"/dists/{SUITE}/main/binary-amd64/by-hash/SHA256/{digest}" in server.requests
    assert f"/dists/{SUITE}/{INDEX}.gz" not in server.requests


def test_by_hash_falls_back_to_the_plain_name(
    repo: AptRepo, client: RepoClient, server: Server
) -> None:
    resign(repo, lambda text: text.replace("Origin:", "Acquire-By-Hash: yes\nOrigin:"))
    (index,) = client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    assert len(index.packages) == 2
    assert server.requests[-1] == f"/dists/{SUITE}/{INDEX}.gz"


# -- signatures ----------------------------------------------------------------------------


def test_no_keyring_is_refused(repo: AptRepo, client: RepoClient) -> None:
    with pytest.raises(SignatureError, match=f"{repo.uri}: no keyring"):
        client.fetch_indices([spec(repo.uri, None)], "amd64")


def test_unknown_key(repo: AptRepo, other_key: SigningKey, client: RepoClient) -> None:
    dist = repo.root / "dists" / SUITE
    other_key.clearsign(dist / "Release", dist / "InRelease")
    with pytest.raises(SignatureError) as raised:
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    message = str(raised.value)
    assert message.startswith(f"{repo.uri}/dists/{SUITE}/InRelease signed by unknown key ")
    assert other_key.fingerprint[-16:] in message and "pass the right keyring" in message


def test_unknown_key_on_detached_signature(
    repo: AptRepo, other_key: SigningKey, client: RepoClient
) -> None:
    dist = repo.root / "dists" / SUITE
    (dist / "InRelease").unlink()
    other_key.detach_sign(dist / "Release", dist / "Release.gpg")
    with pytest.raises(SignatureError, match=r"/Release signed by unknown key"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


def test_tampered_inrelease(repo: AptRepo, client: RepoClient) -> None:
    inrelease = repo.root / "dists" / SUITE / "InRelease"
    inrelease.write_text(inrelease.read_text().replace("Origin: zerocve-test", "Origin: evil"))
    with pytest.raises(SignatureError, match="InRelease: BAD signature by key .*altered"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


def test_tampered_release_with_detached_signature(repo: AptRepo, client: RepoClient) -> None:
    dist = repo.root / "dists" / SUITE
    (dist / "InRelease").unlink()
    (dist / "Release").write_text((dist / "Release").read_text() + "Valid-Until: never\n")
    with pytest.raises(SignatureError, match="/Release: BAD signature"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


def test_unsigned_repository(repo: AptRepo, client: RepoClient) -> None:
    (repo.root / "dists" / SUITE / "InRelease").unlink()
    (repo.root / "dists" / SUITE / "Release.gpg").unlink()
    with pytest.raises(SignatureError, match="neither InRelease nor Release.gpg"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


def test_release_of_another_suite_is_refused(repo: AptRepo, client: RepoClient) -> None:
    """A validly signed Release replayed under another suite's name."""
    shutil.copytree(repo.root / "dists" / SUITE, repo.root / "dists" / "trixie")
    trixie = RepositorySpec(uri=repo.uri, suites=["trixie"], keyring=str(repo.keyring))
    with pytest.raises(RepositoryError, match="trixie: Release is for bookworm, not trixie"):
        client.fetch_indices([trixie], "amd64")


# -- Valid-Until ---------------------------------------------------------------------------


def _with_valid_until(text: str) -> str:
    return text.replace("Date:", "Valid-Until: Sun, 08 Nov 2026 06:00:00 UTC\nDate:")


EXPIRED = "Release expired on 2026-11-08 06:00:00 UTC; use --ignore-valid-until"
NOT_YET = (
    "Release is not valid yet (dated 2026-11-01 00:00:00 UTC); check this machine's clock, "
    "or use --ignore-valid-until"
)


@pytest.mark.parametrize(
    ("now", "ignore", "refusal"),
    [
        (datetime(2026, 11, 8, 5, 59, tzinfo=UTC), False, None),
        (datetime(2026, 11, 8, 6, 1, tzinfo=UTC), False, EXPIRED),
        (datetime(2026, 11, 8, 6, 1, tzinfo=UTC), True, None),
        (datetime(2026, 10, 31, 23, 0, tzinfo=UTC), False, NOT_YET),  # an hour before its Date
        (datetime(2026, 10, 31, 23, 55, tzinfo=UTC), False, None),  # within clock skew
        (datetime(2026, 10, 31, 23, 0, tzinfo=UTC), True, None),
    ],
)
def test_release_validity_window(
    repo: AptRepo, tmp_path: Path, now: datetime, ignore: bool, refusal: str | None
) -> None:
    """Valid-Until is enforced and a Release from the future refused, unless ignored."""
    resign(repo, _with_valid_until)
    with RepoClient(tmp_path / "c", clock=lambda: now, ignore_valid_until=ignore) as client:
        if refusal:
            with pytest.raises(RepositoryError) as raised:
                client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
            assert str(raised.value) == f"{repo.uri} {SUITE}: {refusal}"
        else:
            (index,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
            assert len(index.packages) == 2


# -- index integrity -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gz", ".xz"])
def test_packages_hash_mismatch(repo: AptRepo, client: RepoClient, suffix: str) -> None:
    if suffix == ".xz":
        resign(repo, lambda text: text.replace(f"{INDEX}.gz", f"{INDEX}.none"))
    packed = repo.root / "dists" / SUITE / f"{INDEX}{suffix}"
    text = (repo.root / "dists" / SUITE / INDEX).read_bytes()
    text = text.replace(b"Package: hello\n", b"Package: evil\n")
    packed.write_bytes(gzip.compress(text) if suffix == ".gz" else lzma.compress(text))
    with pytest.raises(IntegrityError) as raised:
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert str(raised.value).startswith(f"{repo.uri}/dists/{SUITE}/{INDEX}{suffix}: ")
    assert list(client.cache.blobs.iterdir()) == []


@pytest.mark.parametrize("over", ["file", "http"])
def test_a_download_that_is_no_index_at_all_is_reported_as_not_matching(
    repo: AptRepo, client: RepoClient, server: Server, over: str
) -> None:
    """The text is decompressed as the file downloads, but what the download is (it does
    not match the signed SHA256) is said before what its decompression found."""
    gz = repo.root / "dists" / SUITE / f"{INDEX}.gz"
    gz.write_bytes(b"\0" * gz.stat().st_size)
    with pytest.raises(IntegrityError, match=rf"{INDEX}\.gz: SHA256 is [0-9a-f]+, expected"):
        client.fetch_indices([spec(repo.uri if over == "file" else server.uri, repo.keyring)],
                             "amd64")


def test_a_signed_index_that_does_not_decompress_is_one_line(
    repo: AptRepo, client: RepoClient
) -> None:
    gz = repo.root / "dists" / SUITE / f"{INDEX}.gz"
    gz.write_bytes(gzip.compress((repo.root / "dists" / SUITE / INDEX).read_bytes())[:-30])
    repo.release(SUITE)
    with pytest.raises(RepositoryError, match=rf"{INDEX}\.gz: cannot decompress: "):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


@pytest.mark.parametrize("suffix", [".gz", ".xz"])
def test_an_index_that_inflates_past_the_bound_is_refused(
    repo: AptRepo, client: RepoClient, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """A small compressed file may inflate to gigabytes: the text is held whole (read by
    name), so it is bounded."""
    if suffix == ".xz":
        resign(repo, lambda text: text.replace(f"{INDEX}.gz", f"{INDEX}.none"))
    size = len((repo.root / "dists" / SUITE / INDEX).read_bytes())
    monkeypatch.setattr(repo_module, "MAX_INDEX_TEXT", size - 1)
    with pytest.raises(RepositoryError, match=rf"{INDEX}\{suffix}: cannot decompress: it "
                                              rf"inflates to over {size - 1} bytes$"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    monkeypatch.setattr(repo_module, "MAX_INDEX_TEXT", size)
    (index,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
    assert len(index.packages) == 2


def test_packages_xz_size_mismatch(repo: AptRepo, client: RepoClient) -> None:
    resign(repo, lambda text: text.replace(f"{INDEX}.gz", f"{INDEX}.none"))
    xz = repo.root / "dists" / SUITE / f"{INDEX}.xz"
    xz.write_bytes(lzma.compress(b"Package: evil\n"))
    with pytest.raises(IntegrityError, match=rf"{INDEX}\.xz: got \d+ bytes, expected"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")


def test_missing_architecture(repo: AptRepo, client: RepoClient) -> None:
    with pytest.raises(RepositoryError, match="Release lists no main/binary-arm64/Packages"):
        client.fetch_indices([spec(repo.uri, repo.keyring)], "arm64")


# -- .deb downloads ------------------------------------------------------------------------


def deb_ref(uri: str, deb: Path) -> DebRef:
    return DebRef(uri, f"pool/{SUITE}/{deb.name}", deb.stat().st_size, sha256(deb))


def test_truncated_deb_in_cache_is_fetched_again(
    repo: AptRepo, debs: list[Path], client: RepoClient, server: Server
) -> None:
    ref = deb_ref(server.uri, debs[0])
    cached = client.fetch_deb(ref)
    assert cached.read_bytes() == debs[0].read_bytes()
    assert client.fetch_deb(ref) == cached
    assert len(server.requests) == 1  # the second call was served from the cache
    with cached.open("r+b") as f:
        f.truncate(100)
    assert client.fetch_deb(ref).read_bytes() == debs[0].read_bytes()
    assert len(server.requests) == 2


def test_truncated_deb_in_cache_and_on_server(
    repo: AptRepo, debs: list[Path], client: RepoClient
) -> None:
    ref = deb_ref(repo.uri, debs[1])
    cached = client.fetch_deb(ref)
    cached.write_bytes(cached.read_bytes()[:100])
    pool_file = repo.root / ref.filename
    pool_file.write_bytes(pool_file.read_bytes()[:-1])
    with pytest.raises(IntegrityError) as raised:
        client.fetch_deb(ref)
    assert str(raised.value) == (
        f"{debs[1].name} from {repo.uri}/{ref.filename}: "
        f"got {ref.size - 1} bytes, expected {ref.size}"
    )
    assert client.cache.get(ref.sha256) is None


def test_unsafe_filename_is_refused(client: RepoClient, repo: AptRepo) -> None:
    with pytest.raises(IntegrityError, match="unsafe Filename '../../etc/passwd'"):
        client.fetch_deb(DebRef(repo.uri, "../../etc/passwd", 1, "0" * 64))


# -- HTTP failures -------------------------------------------------------------------------


def test_5xx_is_retried(
    repo: AptRepo, debs: list[Path], client: RepoClient, server: Server
) -> None:
    inrelease = f"/dists/{SUITE}/InRelease"
    ref = deb_ref(server.uri, debs[0])
    deb = "/" + ref.filename
    server.faults = {inrelease: ["500", "500"], deb: ["500", "drop"]}
    client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    assert client.fetch_deb(ref).read_bytes() == debs[0].read_bytes()
    assert server.requests.count(inrelease) == 3
    assert server.requests.count(deb) == 3


def test_dropped_connection_is_retried(
    repo: AptRepo, debs: list[Path], client: RepoClient, server: Server
) -> None:
    ref = deb_ref(server.uri, debs[1])
    server.faults = {"/" + ref.filename: ["drop", "drop"]}
    assert client.fetch_deb(ref).read_bytes() == debs[1].read_bytes()
    assert server.requests.count("/" + ref.filename) == 3


def test_retries_are_bounded(repo: AptRepo, tmp_path: Path, server: Server) -> None:
    inrelease = f"/dists/{SUITE}/InRelease"
    server.faults = {inrelease: ["500"] * 10}
    waits: list[float] = []
    with RepoClient(tmp_path / "c", retries=2, backoff=0.01) as client:
        # Record the backoff instead of sleeping.
        client.fetcher.policy = replace(client.fetcher.policy, sleep=waits.append)
        with pytest.raises(FetchError) as raised:
            client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    assert str(raised.value) == (
        f"{server.uri}{inrelease}: HTTP 500 Internal Server Error (after 3 attempts)"
    )
    assert waits == [0.01, 0.02]
    assert server.requests.count(inrelease) == 3


def test_retry_after_is_honoured(repo: AptRepo, tmp_path: Path, server: Server) -> None:
    server.faults = {f"/dists/{SUITE}/InRelease": ["429", "500"]}
    waits: list[float] = []
    with RepoClient(tmp_path / "c", backoff=0.01) as client:
        client.fetcher.policy = replace(client.fetcher.policy, sleep=waits.append)
        client.fetch_indices([spec(server.uri, repo.keyring)], "amd64")
    assert waits == [3.0, 0.02]


def test_missing_deb_is_not_retried(debs: list[Path], client: RepoClient, server: Server) -> None:
    ref = DebRef(server.uri, "pool/bookworm/gone_1.0_amd64.deb", 10, "0" * 64)
    with pytest.raises(
        FetchError, match=f"{server.uri}/pool/bookworm/gone_1.0_amd64.deb: HTTP 404"
    ):
        client.fetch_deb(ref)
    assert len(server.requests) == 1


def test_connection_refused(tmp_path: Path, repo: AptRepo) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens on this port now
    with RepoClient(tmp_path / "c", retries=1, backoff=0.01) as client:
        with pytest.raises(FetchError, match=rf"127.0.0.1:{port}/dists/.*ConnectError.*2 attempts"):
            client.fetch_indices([spec(f"http://127.0.0.1:{port}", repo.keyring)], "amd64")


# -- progress ------------------------------------------------------------------------------


class Recorder(Reporter):
    def __init__(self) -> None:
        self.tasks: dict[str, tuple[float | None, list[float]]] = {}

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        advances: list[float] = []
        self.tasks[description] = (total, advances)

        class Recording(Task):
            def advance(self, amount: float = 1) -> None:
                advances.append(amount)

        yield Recording()


def test_progress_per_download(repo: AptRepo, debs: list[Path], tmp_path: Path) -> None:
    recorder = Recorder()
    with RepoClient(tmp_path / "c", reporter=recorder) as client:
        (index,) = client.fetch_indices([spec(repo.uri, repo.keyring)], "amd64")
        client.fetch_debs(index.packages)
    gz_size = (repo.root / "dists" / SUITE / f"{INDEX}.gz").stat().st_size
    expected = {"Packages.gz": gz_size, **{deb.name: deb.stat().st_size for deb in debs}}
    assert {name: (total, sum(adv)) for name, (total, adv) in recorder.tasks.items()} == {
        name: (size, size) for name, size in expected.items()
    }


# -- the shared repository of real Debian packages ----------------------------------------


@pytest.mark.slow
def test_real_debian_packages_over_http(apt_repo: AptRepo, tmp_path: Path) -> None:
    repos = [
        RepositorySpec(uri=apt_repo.http_uri, suites=apt_repo.suites, keyring=str(apt_repo.keyring))
    ]
    with RepoClient(tmp_path / "c") as client:
        indices = client.fetch_indices(repos, apt_repo.arch)
        assert [i.origin.suite for i in indices] == apt_repo.suites
        names = {p.name for i in indices for p in i.packages}
        assert {"python3", "ca-certificates", "tzdata", "base-files", "netbase"} <= names
        python3 = next(p for p in indices[0].packages if p.name == "python3")
        assert python3.source == "python3-defaults" and "python3.11" in python3.depends
        deb = client.fetch_deb(python3)
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert fields == f"Package: python3\nVersion: {python3.version}\n"
