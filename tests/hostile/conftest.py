"""Fixtures of the hostile tests: a small advisory DB built by zerocve from the tracker
fixture, and a root filesystem writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from zerocve.vuln import db

TRACKER = Path(__file__).resolve().parents[1] / "vuln" / "data" / "tracker-bookworm.json"


@pytest.fixture(scope="session")
def tracker_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An advisory DB with the tracker fixture's bookworm and bullseye data."""
    path = tmp_path_factory.mktemp("hostile-db") / "advisories.sqlite"
    db.update([db.FeedSource.of("debian-tracker", TRACKER)], path)
    return path


RootfsWriter = Callable[..., Path]


@pytest.fixture
def rootfs(tmp_path: Path) -> RootfsWriter:
    """``rootfs(status=TEXT, os_release=TEXT)`` writes a root filesystem directory."""

    def write(status: str | bytes, os_release: str = "ID=debian\nVERSION_ID=12\n") -> Path:
        root = tmp_path / "rootfs"
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/os-release").write_text(os_release)
        (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
        data = status.encode() if isinstance(status, str) else status
        (root / "var/lib/dpkg/status").write_bytes(data)
        return root

    return write
