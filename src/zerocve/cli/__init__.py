"""The ``zerocve`` command line. Thin: parse arguments, call the library, print, exit.

Exit codes: 0 clean; 1 findings over the gate; 2 usage error; 3 operational failure.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

import typer
from rich.markup import escape

from zerocve.cli import _app
from zerocve.errors import ZerocveError

# Each module registers its command on the shared app when imported.
_COMMAND_MODULES = {
    "build": "build_cmd",
    "db": "db_cmd",
    "lock": "lock_cmd",
    "publish": "publish_cmd",
    "sbom": "sbom_cmd",
    "scan": "scan_cmd",
}


def _register(modules: Iterable[str]) -> typer.Typer:
    for module in modules:
        importlib.import_module(f"zerocve.cli.{module}")
    return _app.app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole CLI, e.g. for typer's CliRunner
        return _register(_COMMAND_MODULES.values())
    raise AttributeError(name)


def main() -> None:
    # Only the command being run is imported (every other one for --help): start-up time is
    # part of every no-change rebuild.
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    modules = (
        [_COMMAND_MODULES[command]] if command in _COMMAND_MODULES else _COMMAND_MODULES.values()
    )
    app = _register(modules)
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
