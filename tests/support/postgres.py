"""A throwaway PostgreSQL server from Debian's ``postgresql`` package, on loopback.

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as ``nobody`` (through
``runuser``) when the tests run as root, on a directory of their own under /tmp (pytest's
temporary root is private to its user).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"{name} not found under /usr/lib/postgresql: run scripts/install-deps")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    root: Path
    port: int
    user: str
    _as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; its URL."""
        self._run(_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                  "-d", "postgres", "-c", f'CREATE DATABASE "{name}"')  # fmt: skip
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, cwd=self.root)

    def stop(self) -> None:
        subprocess.run(
            [*self._as, _bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=self.root,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    root = Path(tempfile.mkdtemp(prefix="zerocve-pg-"))
    run_as: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        user = "nobody"
        os.chown(root, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
        run_as = ["runuser", "-u", user, "--"]
    port = _free_port()
    server = Postgres(root, port, user, run_as)
    data = root / "data"
    server._run(_bin("initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8",
                "--no-sync")  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    server._run(_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                "-w", "-t", "60", "start")  # fmt: skip
    return server
