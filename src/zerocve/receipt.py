"""Build receipts: "nothing to do" answered without loading the builder, as make, ninja and
Bazel's action cache answer it.

A no-change ``zerocve build`` spends most of its time importing its own stack (pydantic
models, typer, rich). After a build that changed nothing, a receipt is kept at
``<cache>/receipts/<key>.json``. Its ``key`` (``command_key``) is a digest of what the command
is: zerocve's code, the interpreter, the libraries installed beside it (the name of every
distribution's metadata directory on ``sys.path``, which carries its version), the command
line, the working directory, the whole environment (every variable ``Settings``, rich, gpg or
Python itself reads, so that none can be forgotten) and which standard streams are
terminals, and of what size. Its body names what the result depends on beyond that:

* ``inputs``: files and the SHA256 of their bytes (the spec, the lock, the keyrings, the
  kept signed Releases the lock's verification reads), hashed before the build read them;
* ``absent``: paths that did not exist (the advisory DB: with one, the build scans, and the
  gate's answer depends on the DB and on the live indices; an apt source or keyring file);
* ``listings``: directories and the SHA256 of their sorted entry names (the host's
  ``sources.list.d`` and ``trusted.gpg.d``, for a spec that names no repository): a file
  added, removed or renamed there changes it;
* ``outputs``: every entry under each path the build wrote (the OCI layout, the SBOM beside
  it) with its device, inode, type and mode, size, mtime and ctime: a file replaced, edited,
  touched, added or removed changes one of them (ctime cannot be set back by a user);
* ``until``: when the lock's verification lapses (the first expiry of a key in the keyrings,
  as ``zerocve.lock_record``'s records do);
* ``printed``: what the command wrote on stdout and stderr, in order.

A receipt is only kept for a run that changed no output, and only answers once a second
such run found it and printed the same bytes with the same inputs and outputs
(``confirmed``): the first run after a change may print what the next would not ("image
read from the build cache" comes only after the cache was filled), and a command whose
output is not the same twice never gets a receipt. Receipts are sealed with the cache seal
(``zerocve.cache_seal``): one not written here, damaged or for another key is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from zerocve.cache_seal import CacheSeal, SealedRecords

_FORMAT = "zerocve-receipt 3"
# Receipts are a few kilobytes: this keeps hundreds, the least recently used go first.
MAX_BYTES = 4 << 20
STREAMS = ("stdout", "stderr")
# An output changed within the same tick of the file system's clock as it was recorded
# would show the recorded times: entries this recent are not vouched for. Whole seconds
# mean a file system that keeps no finer times (ext3's small inodes, FAT keeps two).
_SETTLED_NS = 50_000_000
_SETTLED_COARSE_NS = 2_000_000_000

# dev, inode, mode, size, mtime_ns, ctime_ns
Entry = tuple[int, int, int, int, int, int]
Snapshot = dict[str, Entry]


@dataclass(frozen=True)
class Printed:
    stream: str  # one of STREAMS
    text: str


@dataclass(frozen=True)
class Receipt:
    inputs: tuple[tuple[str, str], ...]  # (path, SHA256 of its bytes)
    absent: tuple[str, ...]
    outputs: tuple[tuple[str, Snapshot], ...]  # (path written, what is there)
    until: int | None  # seconds since 1970; None: no lapse
    printed: tuple[Printed, ...]
    confirmed: bool = False
    listings: tuple[tuple[str, str], ...] = ()  # (directory, SHA256 of its sorted names)

    def same_result(self, other: Receipt) -> bool:
        """Both runs had the same inputs and outputs, and printed the same."""
        return replace(self, confirmed=False) == replace(other, confirmed=False)

    def holds(self, now: float) -> bool:
        """Confirmed, not lapsed at ``now``, and every input, absence and output is as it
        was recorded."""
        return (
            self.confirmed
            and (self.until is None or now < self.until)
            and all(file_sha256(Path(path)) == digest for path, digest in self.inputs)
            and not any(os.path.lexists(path) for path in self.absent)
            and all(listing_sha256(Path(path)) == digest for path, digest in self.listings)
            and all(snapshot(Path(path)) == entries for path, entries in self.outputs)
        )


def terminals() -> list[list[int] | None]:
    """For stdin, stdout and stderr: its size when it is a terminal (rich wraps and colours
    by it), else None."""
    sizes: list[list[int] | None] = []
    for fd in (0, 1, 2):
        try:
            sizes.append(list(os.get_terminal_size(fd)) if os.isatty(fd) else None)
        except OSError:
            sizes.append(None)
    return sizes


def distributions() -> list[str]:
    """The metadata directories of the distributions installed on ``sys.path``
    (``rich-13.7.1.dist-info``): a library upgraded in place (rich words and colours a note,
    typer parses an option) makes another command. Listing the directories costs a
    millisecond, where ``importlib.metadata`` costs tens."""
    names = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            names += [name for name in os.listdir(entry or ".")
                      if name.endswith((".dist-info", ".egg-info"))]
    return sorted(names)


def command_key(
    argv: Sequence[str], cwd: str, environ: Mapping[str, str], code: str,
) -> str:
    """The SHA256 of what the command is (see the module docstring)."""
    what = {
        "format": _FORMAT,
        "code": code,
        "python": [sys.executable, sys.version, repr(sys.flags), sorted(map(str, sys._xoptions)),
                   sys.warnoptions],
        "distributions": distributions(),
        "argv": list(argv),
        "cwd": cwd,
        "environ": sorted(environ.items()),
        "terminals": terminals(),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def file_sha256(path: Path) -> str | None:
    """The SHA256 of the file at ``path``; None when it cannot be read."""
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def listing_sha256(directory: Path) -> str | None:
    """The SHA256 of the sorted names in ``directory``; None when it cannot be listed."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode(errors="surrogateescape")).hexdigest()


def _entry(st: os.stat_result) -> Entry:
    return (st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def snapshot(root: Path) -> Snapshot | None:
    """Every entry at and below ``root`` (symlinks not followed), by its path relative to
    ``root``; None when ``root`` is absent or cannot be listed."""
    entries: Snapshot = {}
    try:
        entries["."] = _entry(root.lstat())
        if not stat.S_ISDIR(entries["."][2]):
            return entries
        pending = [(root, "")]
        while pending:
            directory, prefix = pending.pop()
            with os.scandir(directory) as listing:
                for item in listing:
                    name = prefix + item.name
                    entries[name] = _entry(item.stat(follow_symlinks=False))
                    if item.is_dir(follow_symlinks=False):
                        pending.append((Path(item.path), name + "/"))
    except OSError:
        return None
    return entries


def settled(outputs: Sequence[tuple[str, Snapshot]], now_ns: int) -> bool:
    """No entry changed so recently that a change now could keep its recorded times."""
    for _, entries in outputs:
        for *_, mtime_ns, ctime_ns in entries.values():
            newest = max(mtime_ns, ctime_ns)
            coarse = mtime_ns % 1_000_000_000 == 0 and ctime_ns % 1_000_000_000 == 0
            if now_ns - newest < (_SETTLED_COARSE_NS if coarse else _SETTLED_NS):
                return False
    return True


class Receipts:
    """The receipts below ``cache_dir``, sealed by ``seal``."""

    def __init__(self, cache_dir: Path, seal: CacheSeal) -> None:
        self.records = SealedRecords(cache_dir / "receipts", seal, _FORMAT, MAX_BYTES)

    def load(self, key: str) -> Receipt | None:
        """The receipt kept for ``key``; None when there is none, or it is damaged, was not
        sealed here or was written for another key."""
        try:
            body = self.records.load(key)
            return None if body is None else _receipt(body)
        except (ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, receipt: Receipt) -> None:
        """Keep ``receipt`` for ``key``. Best effort: a receipt that cannot be written only
        costs the next run its start-up."""
        self.records.store(key, asdict(receipt))

    def touch(self, key: str) -> None:
        """Mark the receipt of ``key`` as just used (the least recently used go first)."""
        self.records.touch(key)


def _receipt(body: Mapping[str, Any]) -> Receipt:
    """A receipt from a body that ``Receipts.store`` wrote (sealed, so trusted for its shape;
    a type error here is a format from another version, and a miss)."""
    printed = tuple(Printed(str(p["stream"]), str(p["text"])) for p in body["printed"])
    if any(p.stream not in STREAMS for p in printed):
        raise ValueError("unknown stream")
    until = body["until"]
    return Receipt(
        inputs=tuple((str(path), str(digest)) for path, digest in body["inputs"]),
        absent=tuple(str(path) for path in body["absent"]),
        outputs=tuple(
            (str(path), {str(name): _as_entry(value) for name, value in entries.items()})
            for path, entries in body["outputs"]
        ),
        until=None if until is None else int(until),
        printed=printed,
        confirmed=body["confirmed"] is True,
        listings=tuple((str(path), str(digest)) for path, digest in body["listings"]),
    )


def _as_entry(value: Sequence[int]) -> Entry:
    dev, ino, mode, size, mtime_ns, ctime_ns = (int(v) for v in value)
    return (dev, ino, mode, size, mtime_ns, ctime_ns)


__all__ = [
    "MAX_BYTES", "STREAMS", "Printed", "Receipt", "Receipts", "command_key", "file_sha256",
    "listing_sha256", "settled", "snapshot", "terminals",
]
