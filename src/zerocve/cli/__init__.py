"""The ``zerocve`` command line. Thin: parse arguments, call the library, print, exit.

Exit codes: 0 clean; 1 findings over the gate; 2 usage error; 3 operational failure.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

# Each module registers its commands on the shared app when imported.
from zerocve.cli import (  # noqa: F401
    _app,
    build_cmd,
    db_cmd,
    lock_cmd,
    publish_cmd,
    sbom_cmd,
    scan_cmd,
)
from zerocve.errors import ZerocveError

app = _app.app


def main() -> None:
    try:
        app(standalone_mode=False)
    except ZerocveError as e:
        _app.console_err.print(
            f"[bold red]error:[/] {escape(e.diagnostics())}", highlight=False, soft_wrap=True
        )
        if _app.state.verbose:
            raise
        sys.exit(e.exit_code)
    except typer.Abort:
        _app.console_err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click usage errors arrive here under standalone_mode=False
        # Typer >= 0.2x raises its vendored copy of click's exceptions (typer._click), which
        # are not click's classes: recognise either by their interface.
        show = getattr(e, "show", None)
        if callable(show) and isinstance(getattr(e, "exit_code", None), int):
            show()
            sys.exit(2 if e.exit_code == 2 else 3)  # type: ignore[attr-defined]
        raise
