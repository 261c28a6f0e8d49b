"""The Typer application object, global options and the rich progress reporter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as ProgressTask

from zerocve import __version__
from zerocve.progress import Reporter, Task
from zerocve.settings import Settings

# No emoji codes: ':x:' in a user's value (a passwd-like string, a path) must print as itself.
console = Console(emoji=False)
console_err = Console(stderr=True, emoji=False)


@dataclass
class _State:
    verbose: bool = False
    quiet: bool = False


state = _State()

# Shown by `zerocve --help`; cli.main() is what maps errors to them.
EXIT_CODES = {
    0: "done; for scan, nothing over the gate",
    1: "findings over the gate (--fail-on; publish gates by default)",
    2: "usage error: bad option or value, unknown target, missing file",
    3: "operational failure: unreadable or refused input, repository, registry or DB failure",
    4: "internal error (a zerocve bug): rerun with -v and report the traceback",
}

app = typer.Typer(
    name="zerocve",
    help=(
        "Minimal, reproducible, zero-CVE OCI images from Debian packages.\n\n"
        "Typical flow: [bold]zerocve lock image.yaml[/] → [bold]zerocve build image.yaml -o out/[/]"
        " → [bold]zerocve scan out/[/] → [bold]zerocve publish image.yaml REGISTRY/REPO:TAG[/]."
    ),
    epilog="[bold]Exit codes[/]\n\n"
    + "\n\n".join(f"{code}  {meaning}" for code, meaning in EXIT_CODES.items()),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"zerocve {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state.verbose = verbose
    state.quiet = quiet


class _RichTask(Task):
    def __init__(self, progress: Progress, task_id: object) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._id, amount)  # type: ignore[arg-type]


class _AmountColumn(ProgressColumn):
    """Bytes for downloads and other large totals, "n/m" for counts of things."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()
        self._count = MofNCompleteColumn()

    def render(self, task: ProgressTask) -> RenderableType:
        return (self._bytes if (task.total or 0) > 10_000 else self._count).render(task)


class RichReporter(Reporter):
    """Progress bars on stderr, one row per task in a single display (downloads run on
    several threads at once); silent when stderr is not a terminal or under --quiet."""

    def __init__(self) -> None:
        self._enabled = console_err.is_terminal and not state.quiet
        self._lock = threading.Lock()
        self._active = 0
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _AmountColumn(),
            TimeElapsedColumn(), console=console_err, transient=True,
        )

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        if not self._enabled:
            yield Task()
            return
        with self._lock:
            if self._active == 0:
                self._progress.start()
            self._active += 1
            task_id = self._progress.add_task(description, total=total)
        try:
            yield _RichTask(self._progress, task_id)
        finally:
            with self._lock:
                self._progress.remove_task(task_id)
                self._active -= 1
                if self._active == 0:
                    self._progress.stop()

    def note(self, message: str) -> None:
        if not state.quiet:
            console_err.print(f"[dim]{message}[/]", highlight=False)


def reporter() -> Reporter:
    return RichReporter()


def settings(**given: Any) -> Settings:
    """Settings from the environment, with the options the user gave (None: not given)
    winning over it, and progress bars on stderr."""
    return Settings.from_env(reporter=reporter(),
                             **{name: value for name, value in given.items() if value is not None})
