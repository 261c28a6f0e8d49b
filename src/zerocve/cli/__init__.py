"""The ``zerocve`` command line. Thin: parse arguments, call the library, print, exit.

Exit codes: 0 clean; 1 findings over the gate; 2 usage error; 3 operational failure.
"""

from __future__ import annotations

import sys

import typer

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
        _app.console_err.print(f"[bold red]error:[/] {e.diagnostics()}", highlight=False)
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
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(2 if isinstance(e, click.UsageError) else 3)
        raise
