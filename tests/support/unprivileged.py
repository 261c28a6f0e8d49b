"""Run zerocve as a user without privileges, from a root test run: the user is created once
(``useradd --system``), and the interpreter's installation, which may sit below a directory
only root may enter (a pyenv in /root), is bound at a neutral path in a private mount
namespace for that run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "zerocve-ci"
SRC = Path(__file__).resolve().parents[2] / "src"
PREFIX = Path(sys.base_prefix)
SHARED_PREFIX = Path("/tmp/zerocve-ci-python")
# Bind PREFIX ($1) at SHARED_PREFIX ($2), then run the rest of the command line.
_BOUND = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'


def user_id() -> int:
    """The unprivileged user's uid (and gid), created when missing."""
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USER], check=True)
    return int(subprocess.run(["id", "-u", USER], capture_output=True, text=True,
                              check=True).stdout)


@contextmanager
def user_directory() -> Iterator[Path]:
    """A directory the user owns, outside pytest's root-only temporary directories."""
    path = Path(tempfile.mkdtemp(prefix="zerocve-ci-"))
    uid = user_id()
    os.chown(path, uid, uid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def zerocve_as_user(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m zerocve ARGS`` as the user, with only ``env`` (plus what the interpreter
    needs) in its environment."""
    uid = user_id()
    SHARED_PREFIX.mkdir(exist_ok=True)
    python = SHARED_PREFIX / Path(sys.executable).relative_to(PREFIX)
    environment = {
        "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONPATH": str(SRC),
        # The interpreter's own libpython, not the system's (its RPATH names the old prefix).
        "LD_LIBRARY_PATH": str(SHARED_PREFIX / "lib"),
        **env,
    }
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", _BOUND, "sh", str(PREFIX), str(SHARED_PREFIX),
         "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
         str(python), "-m", "zerocve", *args],
        capture_output=True, text=True, env=environment, check=False, timeout=600,
    )
