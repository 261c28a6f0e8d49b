"""Bytecode as an installation has it (pip compiles it when it installs): with
PYTHONDONTWRITEBYTECODE set, every timed zerocve command would compile its modules from
source again, which no user's command does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def compile_zerocve() -> None:
    import zerocve

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(zerocve.__file__).parent)],
                   check=True, stdout=subprocess.DEVNULL)


__all__ = ["compile_zerocve"]
