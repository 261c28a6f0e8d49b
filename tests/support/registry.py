"""Debian's ``docker-registry`` (the CNCF distribution server) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    process: subprocess.Popen[bytes]
    root: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_registry(
    root: Path, htpasswd: Path | None = None, auth_yaml: str | None = None
) -> Registry:
    """Start a registry storing under ``root``; with ``htpasswd``, basic auth is required;
    ``auth_yaml`` is a whole ``auth:`` section instead (e.g. token auth)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    auth = (
        f"auth:\n  htpasswd:\n    realm: zerocve-test\n    path: {htpasswd}\n" if htpasswd else ""
    )
    auth = auth_yaml or auth
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + auth
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()}")
        try:
            httpx.get(f"http://{host}/v2/", timeout=1)
            return Registry(host=host, process=process, root=root)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("docker-registry did not start within 20 s")
