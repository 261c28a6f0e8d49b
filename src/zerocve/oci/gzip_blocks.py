"""gzip on every core, with bytes that do not depend on how many there are.

The input is cut into ``BLOCK_SIZE`` blocks at fixed offsets, as pigz does. Each block is
raw-deflated on its own, primed with the 32 KiB of input just before it as the dictionary
(so it compresses almost as well as one stream would), and ended with a sync flush that
byte-aligns it, so the blocks concatenate into one valid deflate stream; the last block
ends the stream. A block's bytes depend only on the input, the level and the block's
offset, never on which thread compressed it or when: the result is the same with one
thread or many (``tests/oci/test_gzip_blocks.py``). zlib releases the GIL while it
deflates, so blocks compress in parallel on a thread pool.

The header is the fixed one zlib writes (no name, mtime 0, OS Unix); the trailer is the
CRC-32 and size of the whole input.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from concurrent.futures import Executor, Future

BLOCK_SIZE = 1 << 18
_WINDOW = 1 << 15  # deflate's window: the most of the input before a block it can refer to
_IN_FLIGHT = 8  # blocks submitted and not yet collected, per stream: bounds memory


def _header(level: int) -> bytes:
    # XFL as zlib sets it: 2 for the slowest level, 4 for the fastest.
    extra = 2 if level == 9 else 4 if level < 2 else 0
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([extra, 3])


def _deflate(block: bytes, window: bytes, level: int, last: bool) -> bytes:
    if window:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                                  window)
    else:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return packer.compress(block) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class BlockGzip:
    """A gzip stream written piece by piece: ``write`` the input, then ``finish`` for the
    whole compressed stream. With a ``pool``, blocks are deflated on it (a few ahead at
    most); without one, each as it fills, in the caller's thread: same bytes either way."""

    def __init__(self, level: int, pool: Executor | None = None) -> None:
        self._level = level
        self._pool = pool
        self._pending = bytearray()
        self._window = b""
        self._crc = 0
        self._size = 0
        self._parts: list[bytes] = [_header(level)]
        self._running: deque[Future[bytes]] = deque()

    def write(self, data: bytes | memoryview) -> int:
        self._pending += data
        while len(self._pending) >= BLOCK_SIZE:
            block = bytes(self._pending[:BLOCK_SIZE])
            del self._pending[:BLOCK_SIZE]
            self._block(block, last=False)
        return len(data)

    def _block(self, block: bytes, last: bool) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        window, self._window = self._window, block[-_WINDOW:]
        if self._pool is None:
            self._parts.append(_deflate(block, window, self._level, last))
            return
        self._running.append(self._pool.submit(_deflate, block, window, self._level, last))
        while len(self._running) > (0 if last else _IN_FLIGHT):
            self._parts.append(self._running.popleft().result())

    def finish(self) -> bytes:
        """The gzip stream of everything written (the writer is spent afterwards)."""
        self._block(bytes(self._pending), last=True)
        self._pending.clear()
        self._parts.append(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        return b"".join(self._parts)


def gzip_blocks(data: bytes, level: int, pool: Executor | None = None) -> bytes:
    """``data`` as one ``BlockGzip`` stream."""
    writer = BlockGzip(level, pool)
    writer.write(data)
    return writer.finish()
