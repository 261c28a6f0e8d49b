"""The cache seal's key (zerocve.cache_seal): made once, private, shared by every process of
a state directory; a state directory that cannot hold one keeps nothing derived."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from zerocve.cache_seal import KEY_NAME, CacheSeal, load_seal
from zerocve.settings import Settings


def test_the_key_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    first = load_seal(tmp_path / "state")
    assert first is not None
    key = tmp_path / "state" / KEY_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert load_seal(tmp_path / "state") == first
    assert first.verifies(first.seal(b"a", b"b"), b"a", b"b")
    assert not first.verifies(first.seal(b"a", b"b"), b"ab")  # parts are length-prefixed
    assert not first.verifies(first.seal(b"a"), b"b")
    assert load_seal(tmp_path / "other") != first  # another machine, another key
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [KEY_NAME]  # no temp left


def test_processes_making_the_key_at_once_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        seals = list(pool.map(lambda _: load_seal(tmp_path / "state"), range(32)))
    assert all(s is not None and s == seals[0] for s in seals)


def test_a_state_directory_that_cannot_hold_a_key_keeps_nothing_derived(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    assert load_seal(tmp_path / "file") is None  # not a directory: no key can be made
    assert load_seal(tmp_path / "file" / "state") is None


def test_a_key_that_is_not_one_is_not_used(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / KEY_NAME).write_bytes(b"short")
    assert load_seal(state) is None
    (state / KEY_NAME).unlink()
    (state / KEY_NAME).mkdir()  # not a file at all
    assert load_seal(state) is None


def test_settings_take_the_seal_of_their_state_directory(tmp_path: Path) -> None:
    settings = Settings.from_env({}, cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")
    assert isinstance(settings.cache_seal, CacheSeal)
    assert settings.cache_seal == load_seal(tmp_path / "state")
    assert not (tmp_path / "cache").exists()  # the key is never kept beside what it seals
