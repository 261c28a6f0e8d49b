"""Fleet fixtures: a store on each backend (an SQLite file, and a database of a real
PostgreSQL server started for the session), with a clock the test moves."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.postgres import Postgres, start_postgres
from zerocve.fleet.store import Store, store_url


class Clock:
    """A UTC clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    yield server
    server.stop()


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on each backend."""
    if request.param == "sqlite":
        return store_url(None, tmp_path / "state")
    server: Postgres = request.getfixturevalue("postgres")
    return store_url(server.create_database(f"t{next(_databases)}"), tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_location: str, clock: Clock) -> Iterator[Store]:
    opened = Store.open(store_location, clock=clock)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _unmount_podman_storage(tmp_path: Path) -> Iterator[None]:
    """Podman keeps a fleet's overlay storage (under the test's state dir) mounted: unmount
    it after the test, so pytest can remove the directory."""
    yield
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted(points, reverse=True):
        if point.startswith(f"{tmp_path}/"):
            subprocess.run(["umount", point], capture_output=True, check=False)
