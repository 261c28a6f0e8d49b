"""Session fixtures that start real things: a signed apt repository of real .debs, served on
loopback, and Debian's docker-registry on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.aptrepo import ESSENTIAL_PACKAGES, IMAGE_PACKAGES, AptRepo, SigningKey, build_repo
from support.registry import Registry, start_registry

TESTS = Path(__file__).parent


def pytest_collection_finish(session: pytest.Session) -> None:
    """A full run (no paths given) fails when a ``test_*.py`` under tests/ yields no test:
    pytest's ``norecursedirs`` once hid a whole folder, and CI never ran it."""
    if session.config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return
    collected = {Path(str(item.path)).resolve() for item in session.items}
    silent = sorted(
        str(path.relative_to(TESTS.parent))
        for path in TESTS.rglob("test_*.py")
        if path.resolve() not in collected
    )
    if silent:
        raise pytest.UsageError(
            f"no test collected from {', '.join(silent)}: rename the folder or fix the file"
        )


# Every podman the tests start (directly or through zerocve) reads these settings.
os.environ["CONTAINERS_CONF"] = str(Path(__file__).parent / "support" / "containers.conf")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test session gets its own zerocve cache (downloads, DB) and state (the cache
    seal's key, the fleet store's default home), never the user's."""
    monkeypatch.setenv("ZEROCVE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "zerocve-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-state"))


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.create(tmp_path_factory.mktemp("gnupg"))


@pytest.fixture(scope="session")
def apt_repo(
    tmp_path_factory: pytest.TempPathFactory, signing_key: SigningKey
) -> Iterator[AptRepo]:
    """The examples' packages (and the Essential set) for amd64, and the static example's for
    arm64, in ``bookworm`` and ``bookworm-security``, signed, on ``file://`` (``.uri``) and on
    http://127.0.0.1 (``.http_uri``)."""
    repo = build_repo(
        tmp_path_factory.mktemp("apt-repo"), [*IMAGE_PACKAGES, *ESSENTIAL_PACKAGES], signing_key
    )
    repo.serve()
    yield repo
    repo.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry on 127.0.0.1 (plain http, no auth)."""
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


SpecWriter = Callable[..., Path]


@pytest.fixture
def spec_file(tmp_path: Path, apt_repo: AptRepo) -> SpecWriter:
    """``spec_file(packages=[...], name="image.yaml", **top_level_fields)`` writes an image spec
    that uses the loopback repository and returns its path."""

    def write(
        packages: list[str], name: str = "image.yaml", *, http: bool = False, **extra: Any
    ) -> Path:
        spec: dict[str, Any] = {
            "contents": {
                "repositories": [
                    {
                        "uri": apt_repo.http_uri if http else apt_repo.uri,
                        "suites": list(apt_repo.suites),
                        "components": ["main"],
                        "keyring": str(apt_repo.keyring),
                    }
                ],
                "packages": packages,
            },
            **extra,
        }
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    return write
