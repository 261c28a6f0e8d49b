"""The content-addressed cache against real processes: concurrent writers, a writer killed with
SIGKILL mid-download, damaged entries."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from zerocve.debian.cache import BlobCache
from zerocve.errors import IntegrityError

DATA = os.urandom(3 * 65536 + 17)
DIGEST = hashlib.sha256(DATA).hexdigest()
OTHER = bytes([DATA[0] ^ 0xFF]) + DATA[1:]  # same size, other content, whatever DATA is


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_put_then_get(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    assert cache.get(DIGEST) is None
    path = cache.put_stream(DIGEST, len(DATA), chunks(DATA))
    assert path == tmp_path / "blobs" / "sha256" / DIGEST
    assert path.read_bytes() == DATA
    assert cache.get(DIGEST) == path
    assert cache.verify(DIGEST, len(DATA)) == path
    assert list(cache.tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("payload", "size", "message"),
    [
        (DATA[:-1], len(DATA), "got 196624 bytes, expected 196625"),
        (DATA + b"x", len(DATA), "or more, expected 196625"),
        (OTHER, len(DATA), f"expected {DIGEST}"),
        (OTHER, None, f"expected {DIGEST}"),
    ],
    ids=["short", "long", "other", "other-unsized"],
)
def test_mismatch_raises_and_leaves_nothing(
    tmp_path: Path, payload: bytes, size: int | None, message: str
) -> None:
    cache = BlobCache(tmp_path)
    with pytest.raises(IntegrityError, match=message) as raised:
        cache.put_stream(DIGEST, size, chunks(payload), what="pool/x.deb")
    assert str(raised.value).startswith("pool/x.deb: ")
    assert cache.get(DIGEST) is None
    assert list(cache.tmp.iterdir()) == []


def test_error_in_stream_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield DATA[:100]
        raise ConnectionResetError("peer went away")

    cache = BlobCache(tmp_path)
    with pytest.raises(ConnectionResetError):
        cache.put_stream(DIGEST, len(DATA), broken())
    assert cache.get(DIGEST) is None
    assert list(cache.tmp.iterdir()) == []


def test_verify_removes_truncated_entry(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    path = cache.put_stream(DIGEST, len(DATA), chunks(DATA))
    with path.open("r+b") as f:
        f.truncate(100)
    assert cache.get(DIGEST) == path  # present, but only verify() looks inside
    assert cache.verify(DIGEST, len(DATA)) is None
    assert not path.exists()


def test_verify_removes_entry_with_flipped_byte(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    path = cache.put_stream(DIGEST, len(DATA), chunks(DATA))
    path.write_bytes(OTHER)
    assert cache.verify(DIGEST, len(DATA)) is None
    assert not path.exists()


def test_rejects_a_key_that_is_not_a_digest(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match="not a SHA256"):
        BlobCache(tmp_path).get("../../etc/passwd")



def _slow_writer(root: str, mid_file: Barrier, resume: Barrier) -> None:
    def slow() -> Iterator[bytes]:
        for i, chunk in enumerate(chunks(DATA)):
            if i == 1:  # both writers (and the test) meet here, each with part of the file
                mid_file.wait(timeout=30)
                resume.wait(timeout=30)
            yield chunk

    BlobCache(Path(root)).put_stream(DIGEST, len(DATA), slow())


def test_two_concurrent_writers_leave_one_valid_entry(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    mid_file, resume = ctx.Barrier(3), ctx.Barrier(3)
    writers = [
        ctx.Process(target=_slow_writer, args=(str(tmp_path), mid_file, resume)) for _ in range(2)
    ]
    for w in writers:
        w.start()
    mid_file.wait(timeout=30)
    cache = BlobCache(tmp_path)
    assert cache.get(DIGEST) is None  # half-written files are not entries
    assert len(list(cache.tmp.iterdir())) == 2
    resume.wait(timeout=30)
    for w in writers:
        w.join(timeout=60)
    assert [w.exitcode for w in writers] == [0, 0]
    assert list(cache.blobs.iterdir()) == [cache.blobs / DIGEST]
    assert cache.verify(DIGEST, len(DATA)) is not None
    assert list(cache.tmp.iterdir()) == []


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zerocve.debian.cache import BlobCache

    def stream():
        yield b"x" * 1000
        Path(sys.argv[2]).touch()
        time.sleep(600)

    BlobCache(Path(sys.argv[1])).put_stream("ab" * 32, 5000, stream())
    """
)


def test_killed_writer_leaves_no_entry_and_its_temp_is_cleaned(tmp_path: Path) -> None:
    root, started = tmp_path / "cache", tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root), str(started)])
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        (temp,) = (root / "tmp").iterdir()
        old = time.time() - 3600
        os.utime(temp, (old, old))
        BlobCache(root)  # the writer is alive and holds its lock: its temp stays
        assert temp.exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    cache = BlobCache(root)  # the writer is dead: its old temp goes
    assert cache.get("ab" * 32) is None
    assert list(cache.blobs.iterdir()) == []
    assert list(cache.tmp.iterdir()) == []


def test_fresh_unlocked_temp_is_kept(tmp_path: Path) -> None:
    """A writer creates its temp a moment before locking it; a young temp is never removed."""
    cache = BlobCache(tmp_path)
    young = cache.tmp / "young"
    young.write_bytes(b"partial")
    BlobCache(tmp_path)
    assert young.exists()
