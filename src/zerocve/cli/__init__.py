"""The ``zerocve`` command line. Thin: parse arguments, call the library, print, exit.

``main`` is the entry point: a no-change ``zerocve build`` is answered from its build receipt
with the standard library alone (``zerocve.cli._front``); everything else runs the typer
application (``zerocve.cli._main``), imported only then.

Exit codes (``_app.EXIT_CODES``, shown by ``--help`` and in the README): 0 clean; 1 findings
over the gate; 2 usage error; 3 operational failure; 4 internal error (a bug: an exception
zerocve did not expect). Only the gate may exit 1, so a CI job can tell "vulnerable" from "broken".
"""

from __future__ import annotations

from typing import Any

# Python's own exit status for an uncaught exception is 1, the gate's code: every exception
# must leave main() through _main._fail or sys.exit.
EXIT_INTERNAL = 4  # _app.EXIT_CODES[4]


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole CLI, every command imported, e.g. for typer's CliRunner
        from zerocve.cli import _app

        for command in _app.COMMANDS:
            _app.load(command)
        return _app.app
    raise AttributeError(name)


def main() -> None:
    from zerocve.cli import _front

    _front.main()
