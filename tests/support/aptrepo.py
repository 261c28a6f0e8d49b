"""A real, signed apt repository on loopback, built from real Debian .debs.

The .debs come from the host's own apt sources with ``apt-get download`` (every version the
host offers in ``bookworm`` and ``bookworm-security``, so the two suites split exactly as the
real archive does) and are cached between runs. Indices are made by ``apt-ftparchive`` and
signed with a throwaway ``gpg`` key, so every check zerocve makes runs against real data.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The example images' packages, plus the Essential set so mmdebstrap can build a root
# filesystem from the same repository (bench/build.py, inventory tests).
IMAGE_PACKAGES = ("python3", "ca-certificates", "tzdata", "base-files", "netbase")
ESSENTIAL_PACKAGES = (
    "base-passwd bash bsdutils coreutils dash debianutils diffutils dpkg findutils grep gzip "
    "hostname init-system-helpers libc-bin login ncurses-base ncurses-bin perl-base sed "
    "sysvinit-utils tar util-linux mawk apt"
).split()
SUITES = ("bookworm", "bookworm-security")
DATE = "Sat, 01 Nov 2026 00:00:00 UTC"


def deb_cache_dir() -> Path:
    base = os.environ.get("ZEROCVE_TEST_DEBS") or Path.home() / ".cache" / "zerocve-tests" / "debs"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def closure(names: Iterable[str]) -> list[str]:
    """Every package apt could pull for ``names`` (all alternatives), from the host's lists."""
    out = _run(
        "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *names,
    )
    return sorted({line for line in out.splitlines() if line and line[0] not in " <"})


def offered_versions(names: Iterable[str]) -> list[tuple[str, str, str]]:
    """(name, version, suite) for every version of ``names`` the host offers in ``SUITES``."""
    out = _run("apt-cache", "madison", *names)
    found = set()
    for line in out.splitlines():
        name, version, where = (part.strip() for part in line.split("|")[:3])
        suite = where.split()[1].split("/")[0]
        if suite in SUITES and "Packages" in where:
            found.add((name, version, suite))
    return sorted(found)


def download(name: str, version: str) -> Path:
    """The cached .deb of ``name=version``, fetched with ``apt-get download`` when missing."""
    cache = deb_cache_dir()
    matches = [p for p in cache.glob(f"{name}_*.deb") if _deb_version(p) == version]
    if matches:
        return matches[0]
    staging = Path(_run("mktemp", "-d", "-p", str(cache)).strip())
    try:
        _run("apt-get", "download", "-q", f"{name}={version}", cwd=staging)
        (fetched,) = staging.glob("*.deb")
        target = cache / fetched.name
        os.replace(fetched, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@functools.cache
def _deb_version(path: Path) -> str:
    return _run("dpkg-deb", "-f", str(path), "Version").strip()


@dataclass
class SigningKey:
    home: Path
    keyring: Path  # binary public keyring, as gpgv and apt's Signed-By expect
    fingerprint: str

    @classmethod
    def create(cls, home: Path, uid: str = "zerocve test archive <archive@example.invalid>"):
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**os.environ, "GNUPGHOME": str(home)}
        _run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign",
             "never", env=env)
        colons = _run("gpg", "--batch", "--with-colons", "--list-keys", uid, env=env)
        fingerprint = next(
            line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:")
        )
        keyring = home / "keyring.gpg"
        keyring.write_bytes(
            subprocess.run(
                ["gpg", "--batch", "--export", fingerprint], env=env, check=True,
                capture_output=True,
            ).stdout
        )
        return cls(home, keyring, fingerprint)

    def clearsign(self, source: Path, target: Path) -> None:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        _run("gpg", "--batch", "--yes", "--local-user", self.fingerprint, "--clearsign",
             "--output", str(target), str(source), env=env)

    def detach_sign(self, source: Path, target: Path) -> None:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        _run("gpg", "--batch", "--yes", "--local-user", self.fingerprint, "--armor",
             "--detach-sign", "--output", str(target), str(source), env=env)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class AptRepo:
    root: Path
    key: SigningKey
    arch: str = "amd64"
    suites: list[str] = field(default_factory=lambda: list(SUITES))
    http_uri: str = ""
    _server: ThreadingHTTPServer | None = None

    @property
    def uri(self) -> str:
        return self.root.as_uri()

    @property
    def keyring(self) -> Path:
        return self.key.keyring

    def publish(self, debs: Iterable[Path], suite: str) -> None:
        """Add ``debs`` to ``suite`` and write its indices and signatures anew."""
        pool = self.root / "pool" / suite
        pool.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            shutil.copyfile(deb, pool / deb.name)
        self.index(suite)

    def index(self, suite: str) -> None:
        dist = self.root / "dists" / suite
        binary = dist / "main" / f"binary-{self.arch}"
        binary.mkdir(parents=True, exist_ok=True)
        (self.root / "pool" / suite).mkdir(parents=True, exist_ok=True)
        packages = _run("apt-ftparchive", "packages", f"pool/{suite}", cwd=self.root)
        (binary / "Packages").write_text(packages)
        _run("xz", "-kf", "-T1", str(binary / "Packages"))
        _run("gzip", "-kfn9", str(binary / "Packages"))
        release = _run(
            "apt-ftparchive",
            "-o", f"APT::FTPArchive::Release::Suite={suite}",
            "-o", f"APT::FTPArchive::Release::Codename={suite}",
            "-o", "APT::FTPArchive::Release::Origin=zerocve-test",
            "-o", f"APT::FTPArchive::Release::Architectures={self.arch}",
            "-o", "APT::FTPArchive::Release::Components=main",
            "-o", f"APT::FTPArchive::Release::Date={DATE}",
            "release", ".", cwd=dist,
        )
        (dist / "Release").write_text(release)
        self.key.clearsign(dist / "Release", dist / "InRelease")
        self.key.detach_sign(dist / "Release", dist / "Release.gpg")

    def serve(self) -> str:
        """Serve the repository over http on 127.0.0.1; returns the base URI."""
        root = str(self.root)

        class Handler(_QuietHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=root, **kwargs)  # type: ignore[arg-type]

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.http_uri = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.http_uri

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def build_repo(root: Path, packages: Iterable[str], key: SigningKey) -> AptRepo:
    """A signed repository holding every offered version of the closure of ``packages``."""
    repo = AptRepo(root=root, key=key)
    by_suite: dict[str, list[Path]] = {suite: [] for suite in SUITES}
    for name, version, suite in offered_versions(closure(packages)):
        by_suite[suite].append(download(name, version))
    for suite, debs in by_suite.items():
        repo.publish(debs, suite)
    return repo
