"""The front door of ``zerocve``: a no-change build answered from its receipt
(``zerocve.receipt``) before anything but the standard library and the cache seal is
imported; every other command line, and every build the receipt does not vouch for, runs the
whole CLI (``zerocve.cli._main``).

Whatever this module does not understand means the whole CLI: an option that is not plain
(``-v``, ``--tar``, ``--no-cache``, ``--help``), no seal key, a missing, damaged, forged,
lapsed or unconfirmed receipt, a changed input or output. It never answers otherwise than
the CLI would; at worst it costs the CLI a few milliseconds. When the CLI runs a build that
may get a receipt, what it prints is recorded on the way out (``_Capture``), and
``zerocve.cli._build_receipt`` tells, once the build is done, what its result depended on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TextIO

from zerocve import locations
from zerocve.receipt import Printed, Receipt, Receipts, command_key

_GLOBAL = frozenset({"-q", "--quiet"})
# Tracebacks, another output, no caches, help: the whole CLI, always.
_REFUSED = frozenset({"-v", "--verbose", "--tar", "--no-cache", "-h", "--help", "--version"})


def eligible(argv: Sequence[str]) -> bool:
    """``argv`` is ``[-q] build ...`` with none of the options receipts leave to the CLI."""
    rest = list(argv)
    while rest and rest[0] in _GLOBAL:
        rest.pop(0)
    if not rest or rest[0] != "build":
        return False
    return not any(arg.split("=", 1)[0] in _REFUSED for arg in rest[1:])


class _Tee:
    """A standard stream that records what is written through it. An attribute beyond plain
    text writing (``buffer``, ``fileno``) could write past the record: asking for one spoils
    the record, and no receipt is kept."""

    def __init__(self, stream: TextIO, name: str, capture: _Capture) -> None:
        self._stream = stream
        self._name = name
        self._capture = capture

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._capture.printed.append(Printed(self._name, text))
        return written

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:
        return self._stream.encoding

    @property
    def errors(self) -> str | None:
        return self._stream.errors

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._stream, name)  # rich asks for attributes streams lack
        self._capture.spoiled = True
        return value


class _Capture:
    def __init__(self) -> None:
        self.printed: list[Printed] = []
        self.spoiled = False
        self.facts: Receipt | None = None  # what it depended on; nothing printed yet

    def install(self) -> None:
        sys.stdout = _Tee(sys.stdout, "stdout", self)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, "stderr", self)  # type: ignore[assignment]


_capture: _Capture | None = None  # while the CLI runs a build that may get a receipt


def recording() -> bool:
    """Whether a receipt may be kept for this run (worth finding what it depends on)."""
    return _capture is not None


def record(facts: Receipt) -> None:
    """What the build that is running depended on (its receipt but for what it printed);
    called once it succeeded and changed no output."""
    if _capture is not None:
        _capture.facts = facts


def _replay(printed: Sequence[Printed]) -> None:
    try:
        for chunk in printed:
            stream = sys.stdout if chunk.stream == "stdout" else sys.stderr
            stream.write(chunk.text)
            stream.flush()
    except OSError as e:  # a closed pipe: one line and exit 3, as the whole CLI does
        sys.stderr.write(f"error: {e.strerror or e}\n")
        sys.exit(3)


def _lookup(argv: Sequence[str]) -> tuple[Receipts, str, Receipt | None] | None:
    """The receipts, this command's key and its receipt, if any; None without a seal key or
    when the process cannot say what it is (a working directory removed, unreadable code)."""
    from zerocve._source_digest import package_digest
    from zerocve.cache_seal import load_seal

    try:
        seal = load_seal(locations.state_dir(os.environ))
        if seal is None:
            return None
        receipts = Receipts(locations.cache_dir(os.environ), seal)
        key = command_key(argv, os.getcwd(), os.environ, package_digest())
        return receipts, key, receipts.load(key)
    except OSError:
        return None


def _run_cli() -> None:
    from zerocve.cli._main import main

    main()


def main() -> None:
    """Answer from a receipt that holds, else run the whole CLI (recording a build that may
    get a receipt, and keeping one when it did)."""
    global _capture
    argv = sys.argv[1:]
    found = _lookup(argv) if eligible(argv) else None
    if found is None:
        return _run_cli()
    receipts, key, kept = found
    if kept is not None and kept.holds(time.time()):
        receipts.touch(key)
        return _replay(kept.printed)
    capture = _capture = _Capture()
    capture.install()
    _run_cli()  # returns only when the command succeeded
    facts = capture.facts
    if facts is None or capture.spoiled:
        return None
    done = replace(facts, printed=tuple(capture.printed), confirmed=False)
    # Confirmed when the run before this one printed the same for the same files.
    confirmed = kept is not None and kept.same_result(done)
    receipts.store(key, replace(done, confirmed=confirmed))
    return None


__all__ = ["eligible", "main", "record", "recording"]
