"""The cache seal's key (zerocve.cache_seal): made once, private, shared by every process of
a state directory; a state directory that cannot hold one keeps nothing derived. And the
directories of sealed records built on it (``SealedRecords``: receipts, verified locks,
inventories)."""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from zerocve.cache_seal import KEY_NAME, CacheSeal, SealedRecords, load_seal
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


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_sealed_records_keep_what_this_machine_sealed_and_nothing_else(tmp_path: Path) -> None:
    seal = CacheSeal(b"k" * 32)
    records = SealedRecords(tmp_path / "records", seal, "test 1", 1 << 20)
    a, b = _key("a"), _key("b")
    assert records.load(a) is None  # absent
    records.store(a, {"value": [1, "x"], "format": "forged", "key": b})
    assert records.load(a) == {"value": [1, "x"], "format": "test 1", "key": a}
    path = records.path(a)
    # Copied under another key's name, sealed by another machine, of another format, damaged.
    records.path(b).write_bytes(path.read_bytes())
    assert records.load(b) is None
    assert SealedRecords(tmp_path / "records", CacheSeal(b"o" * 32), "test 1", 1 << 20).load(a) \
        is None
    assert SealedRecords(tmp_path / "records", seal, "test 2", 1 << 20).load(a) is None
    path.write_bytes(path.read_bytes().replace(b"x", b"y"))
    assert records.load(a) is None
    path.write_bytes(b"\xff not json")
    assert records.load(a) is None
    with pytest.raises(ValueError, match="bad record key"):
        records.path("../" + a[3:])
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == \
        sorted([f"{a}.json", f"{b}.json"])  # no temporary file left


def test_sealed_records_are_bounded_least_recently_used_first(tmp_path: Path) -> None:
    records = SealedRecords(tmp_path / "records", CacheSeal(b"k" * 32), "test 1", 3000)
    keys = [_key(str(n)) for n in range(4)]
    for n, key in enumerate(keys[:3]):
        records.store(key, {"pad": "p" * 800})
        os.utime(records.path(key), (n, n))  # stored in this order
    records.touch(keys[0])  # used since: the oldest is now keys[1]
    records.store(keys[3], {"pad": "p" * 800})
    assert [records.load(key) is not None for key in keys] == [True, False, True, True]
    records.store(_key("big"), {"pad": "p" * 900}, largest=500)  # over its bound: not kept
    assert records.load(_key("big")) is None


def test_sealed_records_that_cannot_be_written_cost_nothing_but_the_record(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    records = SealedRecords(blocked / "records", CacheSeal(b"k" * 32), "test 1", 1 << 20)
    records.store(_key("a"), {"value": 1})  # no error: best effort
    assert records.load(_key("a")) is None
    records.touch(_key("a"))
