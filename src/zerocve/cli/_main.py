"""The whole ``zerocve`` command line (typer), as ``zerocve.cli.main`` runs it when no build
receipt answers (``zerocve.cli._front``).

Exit codes (``_app.EXIT_CODES``, shown by ``--help`` and in the README): 0 clean; 1 findings
over the gate; 2 usage error; 3 operational failure; 4 internal error (a bug: an exception
zerocve did not expect). Only the gate may exit 1, so a CI job can tell "vulnerable" from "broken".
"""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

import typer

from zerocve.cli import EXIT_INTERNAL, _app
from zerocve.errors import ZerocveError


def _fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then the exit code; under -v the traceback first."""
    from rich.markup import escape

    if _app.state.verbose:
        traceback.print_exc()
    # A name from a hostile input may hold a newline: the message stays one line.
    line = message.replace("\r", "\\r").replace("\n", "\\n")
    _app.console_err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main() -> None:
    try:
        _app.app(standalone_mode=False)
    except ZerocveError as e:
        _fail(e.diagnostics(), e.exit_code)
    except typer.Abort:
        _app.console_err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except MemoryError:
        _fail("out of memory: an input is too large for this machine (or hostile)", 3)
    except RecursionError:
        _fail("an input is nested too deeply to read (or hostile)", 3)
    except Exception as e:  # click usage errors arrive here under standalone_mode=False
        # Typer >= 0.2x raises its vendored copy of click's exceptions (typer._click), which
        # are not click's classes: recognise either by their interface.
        show = getattr(e, "show", None)
        if callable(show) and isinstance(getattr(e, "exit_code", None), int):
            show()
            sys.exit(2 if e.exit_code == 2 else 3)  # type: ignore[attr-defined]
        if isinstance(e, OSError):  # the system refused something: not zerocve's bug
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or _one_line(e)}", 3)
        _fail(
            f"internal error ({type(e).__name__}: {_one_line(e)[:200]}); "
            "rerun with -v for the traceback and report it",
            EXIT_INTERNAL,
        )
