"""gzip in blocks on a thread pool: the same bytes whatever the thread count, and a stream
every gzip reader takes (Python's, zlib's, and the gzip program)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from zerocve.oci.gzip_blocks import BLOCK_SIZE, BlockGzip, gzip_blocks


def _real_bytes(size: int) -> bytes:
    """``size`` bytes of real files (the Python library and interpreter): text and code,
    compressible as layers are, unlike random bytes."""
    data = bytearray()
    for path in sorted(Path(gzip.__file__).parent.glob("*.py")) + [Path(sys.executable)]:
        data += path.read_bytes()
        if len(data) >= size:
            break
    assert len(data) >= size
    return bytes(data[:size])


DATA = _real_bytes(5 * BLOCK_SIZE + 12345)


def _gunzip_program(blob: bytes) -> bytes:
    done = subprocess.run(["gzip", "-dc"], input=blob, capture_output=True, check=True)
    return done.stdout


@pytest.mark.parametrize("level", [1, 4, 6, 9])
def test_bytes_do_not_depend_on_the_thread_count(level: int) -> None:
    alone = gzip_blocks(DATA, level)
    for threads in (1, 2, 3, 8):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            assert gzip_blocks(DATA, level, pool) == alone, f"{threads} threads"
    assert gzip.decompress(alone) == DATA
    assert zlib.decompress(alone, 31) == DATA
    assert _gunzip_program(alone) == DATA


def test_bytes_do_not_depend_on_how_the_input_is_cut() -> None:
    """Written a byte, a few KiB or a block and a half at a time: the same stream."""
    whole = gzip_blocks(DATA, 4)
    for piece in (1, 4093, BLOCK_SIZE + BLOCK_SIZE // 2):
        with ThreadPoolExecutor(max_workers=2) as pool:
            writer = BlockGzip(4, pool)
            for start in range(0, len(DATA), piece):
                writer.write(DATA[start:start + piece])
            assert writer.finish() == whole, f"pieces of {piece} bytes"


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1,
                                  3 * BLOCK_SIZE])
def test_block_boundaries(size: int) -> None:
    data = DATA[:size]
    blob = gzip_blocks(data, 4)
    assert gzip.decompress(blob) == data
    assert _gunzip_program(blob) == data
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert gzip_blocks(data, 4, pool) == blob


def test_header_is_fixed_and_trailer_is_the_whole_input() -> None:
    blob = gzip_blocks(DATA, 4)
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # no FNAME flag
    assert blob[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert blob[9] == 3  # OS Unix, as zlib writes it
    assert int.from_bytes(blob[-8:-4], "little") == zlib.crc32(DATA)
    assert int.from_bytes(blob[-4:], "little") == len(DATA)
    # One gzip member, not several concatenated: readers that stop at the first member
    # (zlib with wbits 31 leaves the rest unused) still see everything.
    reader = zlib.decompressobj(31)
    assert reader.decompress(blob) == DATA and reader.eof and not reader.unused_data


def test_blocks_compress_close_to_one_stream() -> None:
    """Priming each block with the 32 KiB before it keeps the cost of cutting small."""
    one_stream = zlib.compressobj(4, zlib.DEFLATED, 31, 9)
    reference = one_stream.compress(DATA) + one_stream.flush()
    assert len(gzip_blocks(DATA, 4)) <= len(reference) * 1.01
