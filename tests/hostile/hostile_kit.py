"""Helpers of the hostile tests: run zerocve as a user does, and read its one error line."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_zerocve(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m zerocve ARGS`` in a real process (exit code and stderr as a user sees)."""
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *args], capture_output=True, text=True, check=False,
        **kwargs,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line on stderr; fails when there is a traceback or more."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


# Runs the command given after the output path and writes the peak resident memory of its
# process tree (KiB) there: a fresh interpreter, so no earlier test's children count.
_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run_measured(
    *args: str, **kwargs: Any
) -> tuple[subprocess.CompletedProcess[str], int]:
    """``run_zerocve(ARGS)`` and the peak resident memory of that process, in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, str(peak), sys.executable, "-m", "zerocve", *args],
            capture_output=True, text=True, check=False, **kwargs,
        )
        return done, int(peak.read_text()) // 1024
