"""Settings.from_env: the one place the environment is read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from zerocve.errors import UsageError
from zerocve.settings import Settings, parse_epoch


def test_defaults_follow_xdg_and_home() -> None:
    s = Settings.from_env({"HOME": "/home/u"})
    assert s.cache_dir == Path("/home/u/.cache/zerocve")
    assert s.db_path == Path("/home/u/.cache/zerocve/db/advisories.sqlite")
    assert s.state_dir == Path("/home/u/.local/state/zerocve")
    assert s.source_date_epoch is None
    xdg = Settings.from_env(
        {"HOME": "/home/u", "XDG_CACHE_HOME": "/c", "XDG_STATE_HOME": "/s"}
    )
    assert (xdg.cache_dir, xdg.state_dir) == (Path("/c/zerocve"), Path("/s/zerocve"))
    # The XDG specification: a relative value is invalid and ignored.
    assert Settings.from_env({"HOME": "/h", "XDG_CACHE_HOME": "rel"}).cache_dir == Path(
        "/h/.cache/zerocve"
    )


def test_zerocve_variables_win_and_the_db_follows_the_cache() -> None:
    env = {"HOME": "/h", "ZEROCVE_CACHE_DIR": "/cache", "ZEROCVE_STATE_DIR": "/state"}
    s = Settings.from_env(env)
    assert (s.cache_dir, s.db_path, s.state_dir) == (
        Path("/cache"), Path("/cache/db/advisories.sqlite"), Path("/state"))
    assert Settings.from_env({**env, "ZEROCVE_DB": "/db.sqlite"}).db_path == Path("/db.sqlite")
    moved = Settings.from_env(env, cache_dir=Path("/other"))
    assert moved.db_path == Path("/other/db/advisories.sqlite")
    assert Settings.from_env(env, db_path=Path("/x.sqlite")).db_path == Path("/x.sqlite")


def test_the_apt_dir_is_etc_apt_unless_set() -> None:
    assert Settings.from_env({"HOME": "/h"}).apt_dir == Path("/etc/apt")
    assert Settings.from_env({"HOME": "/h", "ZEROCVE_APT_DIR": ""}).apt_dir == Path("/etc/apt")
    assert Settings.from_env({"HOME": "/h", "ZEROCVE_APT_DIR": "/x/apt"}).apt_dir == Path("/x/apt")


def test_registry_auth_files_in_podman_order() -> None:
    s = Settings.from_env({"HOME": "/h", "REGISTRY_AUTH_FILE": "/a.json",
                           "XDG_RUNTIME_DIR": "/run/u", "DOCKER_CONFIG": "/d"})
    assert s.registry_auth == (Path("/a.json"), Path("/run/u/containers/auth.json"),
                               Path("/h/.config/containers/auth.json"), Path("/d/config.json"))


@pytest.mark.parametrize(("text", "value"), [("", None), ("  ", None), ("1700000000", 1700000000),
                                             (" 0\n", 0)])
def test_source_date_epoch_values(text: str, value: int | None) -> None:
    assert parse_epoch(text) == value
    assert Settings.from_env({"HOME": "/h", "SOURCE_DATE_EPOCH": text}).source_date_epoch == value


@pytest.mark.parametrize("text", ["yesterday", "-1", "1e9", "1.5", "99999999999999999999"])
def test_a_bad_source_date_epoch_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"^SOURCE_DATE_EPOCH=.*: not a number of seconds"):
        Settings.from_env({"HOME": "/h", "SOURCE_DATE_EPOCH": text})


def test_now_is_the_epoch_when_set_else_the_clock() -> None:
    fixed = datetime(2030, 1, 2, tzinfo=UTC)
    s = Settings.from_env({"HOME": "/h"}, clock=lambda: fixed)
    assert s.now() == fixed
    assert s.with_(source_date_epoch=0).now() == datetime(1970, 1, 1, tzinfo=UTC)
