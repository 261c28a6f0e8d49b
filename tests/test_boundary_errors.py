"""Errors at the boundary: a cache directory that is read-only or full, an advisory DB that
cannot be read, an output directory that is read-only. Each is one line and exit 3, never a
traceback (nor exit 1, the gate's code). The file systems are real: a tmpfs mounted read-only
or tiny in a private mount namespace (``unshare``), and an unprivileged user (``setpriv``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.unprivileged import user_directory, zerocve_as_user

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")

# Mount a tmpfs with the options in $1 at $2, then run the rest of the command line in it.
_IN_TMPFS = 'mount -t tmpfs -o "$1" tmpfs "$2" && shift 2 && exec "$@"'


def zerocve_on_tmpfs(
    mountpoint: Path, options: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    mountpoint.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", _IN_TMPFS, "sh", options,
         str(mountpoint), sys.executable, "-m", "zerocve", "-q", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False,
        timeout=300,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert done.returncode == 3, done.stderr
    return lines[0]


def test_read_only_cache_dir(spec_file, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = zerocve_on_tmpfs(cache, "ro", "build", str(spec_file(["tzdata"])), "--no-scan",
                            "-o", str(tmp_path / "out"), env={"ZEROCVE_CACHE_DIR": str(cache)})
    line = one_error_line(done)
    assert f"{cache}: cannot write to the cache directory" in line
    assert "Read-only file system" in line and "ZEROCVE_CACHE_DIR" in line
    assert not (tmp_path / "out").exists()


def test_full_cache_dir(spec_file, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = zerocve_on_tmpfs(cache, "size=64k", "build", str(spec_file(["tzdata"])),
                            "--no-scan", "-o", str(tmp_path / "out"),
                            env={"ZEROCVE_CACHE_DIR": str(cache)})
    line = one_error_line(done)
    assert f"{cache}: cannot write to the cache directory" in line
    assert "No space left on device" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["-o", "--tar"])
def test_read_only_output_dir(spec_file, tmp_path: Path, option: str) -> None:
    output = tmp_path / "ro"
    done = zerocve_on_tmpfs(output, "ro", "build", str(spec_file(["tzdata"])), "--no-scan",
                            option, str(output / "image"))
    line = one_error_line(done)
    assert f"{output / 'image'}: cannot" in line and "Read-only file system" in line


def _rootfs(directory: Path) -> Path:
    root = directory / "rootfs"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    return root


def test_unreadable_db(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all\n" * 100)
    for db in (garbage, tmp_path):  # not SQLite; a directory
        done = subprocess.run([sys.executable, "-m", "zerocve", "scan", f"dir:{rootfs}",
                               "--db", str(db)], capture_output=True, text=True, check=False)
        assert str(db) in one_error_line(done)


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root: the test creates the user")
def test_db_the_user_may_not_read() -> None:
    # Root reads every file: ask as an unprivileged user for a DB only root may read.
    with user_directory() as home:
        rootfs = _rootfs(home)
        private = home / "private.sqlite"
        private.write_bytes(b"")
        private.chmod(0o600)
        done = zerocve_as_user("scan", f"dir:{rootfs}", "--db", str(private),
                               env={"HOME": str(home), "ZEROCVE_CACHE_DIR": str(home / "c")})
        line = one_error_line(done)
        assert f"{private}: not a readable advisory DB" in line


_KEEP_A_RELEASE = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from zerocve.debian.release_store import ReleaseStore, SignedRelease
from zerocve.errors import ZerocveError
store = ReleaseStore(Path(sys.argv[1]))
try:
    if sys.argv[2] == "keep":
        store.keep("http://127.0.0.1/debian", "bookworm", "0" * 64,
                   SignedRelease(inrelease=b"x" * (256 << 10)))
    else:
        for n in range(10_000):  # one directory of the store's per suite, until none fits
            store.advance("http://127.0.0.1/debian", f"s{n}", datetime.now(UTC), "Release")
except ZerocveError as e:
    print(e)
"""


@pytest.mark.parametrize("write", ["keep", "advance"])
def test_full_cache_dir_while_keeping_releases(tmp_path: Path, write: str) -> None:
    """Whichever file of the cache a build writes first when the disk fills, the line is the
    cache directory's: the Release store's too (its writes race the .deb and index writes)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    done = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", _IN_TMPFS, "sh", "size=64k",
         str(cache), sys.executable, "-c", _KEEP_A_RELEASE, str(cache), write],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{cache}: cannot write to the cache directory: "), done.stdout
    assert "No space left on device" in done.stdout
