"""A real, signed apt repository on loopback, built from real Debian .debs.

The .debs come from the host's own apt sources with ``apt-get download`` (every version the
host offers in ``bookworm`` and ``bookworm-security``, so the two suites split exactly as the
real archive does) and are cached between runs. Indices are made by ``apt-ftparchive`` and
signed with a throwaway ``gpg`` key, so every check zerocve makes runs against real data.

Besides the host's own architecture (amd64), the repository carries arm64 .debs of the static
example's closure. They come from the same sources.list through a private apt state (its own
``Dir::State::Lists`` under the .deb cache, ``APT::Architecture=arm64``, no dpkg status), so the
host's apt configuration is never changed; those lists are kept and refreshed after a day.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from support.loopback import LoopbackServer

# The example images' packages, plus the Essential set so mmdebstrap can build a root
# filesystem from the same repository (bench/build.py, inventory tests).
IMAGE_PACKAGES = ("python3", "ca-certificates", "tzdata", "base-files", "netbase")
ESSENTIAL_PACKAGES = (
    "base-passwd bash bsdutils coreutils dash debianutils diffutils dpkg findutils grep gzip "
    "hostname init-system-helpers libc-bin login ncurses-base ncurses-bin perl-base sed "
    "sysvinit-utils tar util-linux mawk apt"
).split()
# The static example's packages (examples/static.yaml): their closure is also fetched for arm64.
STATIC_PACKAGES = ("base-files", "netbase", "tzdata", "ca-certificates")
HOST_ARCH = "amd64"
FOREIGN_PACKAGES: dict[str, tuple[str, ...]] = {"arm64": STATIC_PACKAGES}
SUITES = ("bookworm", "bookworm-security")
LISTS_MAX_AGE = 24 * 3600  # seconds before a private apt state's lists are fetched again
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


def foreign_apt(arch: str) -> tuple[str, ...]:
    """apt options for a private state that sees the host's sources.list for ``arch`` only.

    The lists live under the .deb cache (``apt-ARCH/lists``) and are fetched with ``apt-get
    update`` when missing or older than a day; the host's lists, status and caches are untouched.
    """
    state = deb_cache_dir() / f"apt-{arch}"
    lists = state / "lists"
    options = (
        "-o", f"Dir::State::Lists={lists}",
        "-o", "Dir::State::Status=/dev/null",
        "-o", f"APT::Architecture={arch}",
        "-o", f"APT::Architectures::={arch}",
        "-o", "Dir::Cache::pkgcache=",
        "-o", "Dir::Cache::srcpkgcache=",
        "-o", "Acquire::Languages=none",
    )
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    stamp = state / "updated"
    with (state / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one update at a time across test sessions
        fresh = (
            stamp.exists()
            and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE
            and any(lists.glob("*Release"))
        )
        if not fresh:
            _run("apt-get", *options, "-o", "APT::Update::Post-Invoke-Success::=", "-q",
                 "update")
            stamp.touch()
    return options


def closure(names: Iterable[str], apt: Sequence[str] = ()) -> list[str]:
    """Every package apt could pull for ``names`` (all alternatives), from the host's lists (or
    the private state ``apt`` names, as :func:`foreign_apt` gives)."""
    out = _run(
        "apt-cache", *apt, "depends", "--recurse", "--no-recommends", "--no-suggests",
        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *names,
    )
    return sorted({line for line in out.splitlines() if line and line[0] not in " <"})


def offered_versions(names: Iterable[str], apt: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """(name, version, suite) for every version of ``names`` the host offers in ``SUITES``."""
    out = _run("apt-cache", *apt, "madison", *names)
    found = set()
    for line in out.splitlines():
        name, version, where = (part.strip() for part in line.split("|")[:3])
        suite = where.split()[1].split("/")[0]
        if suite in SUITES and "Packages" in where:
            found.add((name, version, suite))
    return sorted(found)


def cached_deb(name: str, version: str, arch: str = HOST_ARCH) -> Path | None:
    """The cached .deb of ``name=version`` for ``arch`` or ``all``, if there is one."""
    for suffix in (arch, "all"):
        for path in sorted(deb_cache_dir().glob(f"{name}_*_{suffix}.deb")):
            if _deb_version(path) == version:
                return path
    return None


def download_many(
    wanted: Iterable[tuple[str, str]], arch: str = HOST_ARCH, apt: Sequence[str] = ()
) -> dict[tuple[str, str], Path]:
    """The cached .debs of ``(name, version)`` pairs for ``arch`` (an ``all`` package is fetched
    once for every architecture); the missing ones come from one ``apt-get download``."""
    found: dict[tuple[str, str], Path] = {}
    missing = []
    for name, version in dict.fromkeys(wanted):
        path = cached_deb(name, version, arch)
        if path is None:
            missing.append((name, version))
        else:
            found[name, version] = path
    if not missing:
        return found
    cache = deb_cache_dir()
    staging = Path(_run("mktemp", "-d", "-p", str(cache)).strip())
    try:
        _run("apt-get", *apt, "download", "-q", *(f"{n}={v}" for n, v in missing), cwd=staging)
        for fetched in sorted(staging.glob("*.deb")):
            key = (fetched.name.split("_")[0], _deb_version(fetched))
            target = cache / fetched.name
            os.replace(fetched, target)
            found[key] = target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lost = [f"{n}={v}" for n, v in missing if (n, v) not in found]
    if lost:
        raise RuntimeError(f"apt-get download fetched no .deb for {', '.join(lost)}")
    return found


def download(name: str, version: str, arch: str = HOST_ARCH, apt: Sequence[str] = ()) -> Path:
    """The cached .deb of ``name=version``, fetched with ``apt-get download`` when missing."""
    return download_many([(name, version)], arch, apt)[name, version]


@functools.cache
def _deb_version(path: Path) -> str:
    return _run("dpkg-deb", "-f", str(path), "Version").strip()


@dataclass
class SigningKey:
    home: Path
    keyring: Path  # binary public keyring, as gpgv and apt's Signed-By expect
    fingerprint: str

    @classmethod
    def create(
        cls, home: Path, uid: str = "zerocve test archive <archive@example.invalid>",
        algo: str = "ed25519", expire: str = "never",
    ):
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**os.environ, "GNUPGHOME": str(home)}
        _run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "sign",
             expire, env=env)
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

    def clearsign(self, source: Path, target: Path, digest: str | None = None) -> None:
        """``digest`` (e.g. "SHA1") forces gpg's --digest-algo, as an old archive signed."""
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        forced = ("--digest-algo", digest) if digest else ()
        _run("gpg", "--batch", "--yes", "--local-user", self.fingerprint, *forced,
             "--clearsign", "--output", str(target), str(source), env=env)

    def detach_sign(self, source: Path, target: Path) -> None:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        _run("gpg", "--batch", "--yes", "--local-user", self.fingerprint, "--armor",
             "--detach-sign", "--output", str(target), str(source), env=env)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class AptRepo:
    """A signed repository: ``pool/SUITE/*.deb`` and ``dists/SUITE/main/binary-ARCH`` for each of
    ``archs`` (``arch`` alone by default); ``all`` packages are listed for every architecture."""

    root: Path
    key: SigningKey
    arch: str = HOST_ARCH
    suites: list[str] = field(default_factory=lambda: list(SUITES))
    http_uri: str = ""
    archs: list[str] = field(default_factory=list)
    _server: LoopbackServer | None = None

    def __post_init__(self) -> None:
        if not self.archs:
            self.archs = [self.arch]

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
        (self.root / "pool" / suite).mkdir(parents=True, exist_ok=True)
        for arch in self.archs:
            binary = dist / "main" / f"binary-{arch}"
            binary.mkdir(parents=True, exist_ok=True)
            # --arch keeps *_ARCH.deb and *_all.deb (apt-ftparchive goes by the file name).
            packages = _run(
                "apt-ftparchive", "--arch", arch, "packages", f"pool/{suite}", cwd=self.root
            )
            (binary / "Packages").write_text(packages)
            _run("xz", "-kf", "-T1", str(binary / "Packages"))
            _run("gzip", "-kfn9", str(binary / "Packages"))
        self.release(suite)

    def release(self, suite: str) -> None:
        """Write ``suite``'s Release over the indices under its dists directory, and sign it."""
        dist = self.root / "dists" / suite
        release = _run(
            "apt-ftparchive",
            "-o", f"APT::FTPArchive::Release::Suite={suite}",
            "-o", f"APT::FTPArchive::Release::Codename={suite}",
            "-o", "APT::FTPArchive::Release::Origin=zerocve-test",
            "-o", f"APT::FTPArchive::Release::Architectures={' '.join(self.archs)}",
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

        self._server = LoopbackServer(Handler)
        self.http_uri = f"http://{self._server.host}"
        return self.http_uri

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def make_deb(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, tuple[bytes, int]] | None = None,
    **fields: str,
) -> Path:
    """A real .deb built by dpkg-deb: a README, plus ``files`` (path -> (data, mode))."""
    root = directory / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr" / "share" / name).mkdir(parents=True)
    (root / "usr" / "share" / name / "README").write_text(f"{name} {version}\n" * 200)
    for path, (data, mode) in (files or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)
    control = {
        "Package": name,
        "Version": version,
        "Architecture": "amd64",
        "Maintainer": "zerocve tests <tests@example.invalid>",
        "Description": f"test package {name}",
        **fields,
    }
    (root / "DEBIAN" / "control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    deb = directory / f"{name}_{version}_amd64.deb"
    _run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb))
    return deb


def resign(repo: AptRepo, edit: Callable[[str], str], suite: str = SUITES[0]) -> None:
    """Rewrite a suite's Release with ``edit`` and sign it again (InRelease and Release.gpg)."""
    dist = repo.root / "dists" / suite
    release = dist / "Release"
    release.write_text(edit(release.read_text()))
    repo.key.clearsign(release, dist / "InRelease")
    repo.key.detach_sign(release, dist / "Release.gpg")


def build_repo(
    root: Path,
    packages: Iterable[str],
    key: SigningKey,
    foreign: Mapping[str, Iterable[str]] = FOREIGN_PACKAGES,
    expand: Callable[[Iterable[str]], list[str]] = closure,
) -> AptRepo:
    """A signed repository holding every offered version of ``expand(packages)`` (by default
    their closure with every alternative) for the host's architecture, and of the closure of
    ``foreign[ARCH]`` for each other architecture."""
    repo = AptRepo(root=root, key=key, archs=[HOST_ARCH, *foreign])
    by_suite: dict[str, set[Path]] = {suite: set() for suite in SUITES}
    wanted: list[tuple[str, Sequence[str], list[tuple[str, str, str]]]] = [
        (HOST_ARCH, (), offered_versions(expand(packages)))
    ]
    for arch, names in foreign.items():
        apt = foreign_apt(arch)
        wanted.append((arch, apt, offered_versions(closure(names, apt), apt)))
    for arch, apt, offered in wanted:
        fetched = download_many([(name, version) for name, version, _ in offered], arch, apt)
        for name, version, suite in offered:
            by_suite[suite].add(fetched[name, version])
    for suite, debs in by_suite.items():
        repo.publish(sorted(debs), suite)
    return repo
