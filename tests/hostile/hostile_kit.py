"""Helpers of the hostile tests: run zerocve as a user does, and read its one error line."""

from __future__ import annotations

import subprocess
import sys
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
