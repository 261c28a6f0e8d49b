"""The Typer application object, global options and the rich progress reporter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from zerocve import __version__
from zerocve.progress import Reporter, Task

console = Console()
console_err = Console(stderr=True)


@dataclass
class _State:
    verbose: bool = False
    quiet: bool = False


state = _State()

app = typer.Typer(
    name="zerocve",
    help=(
        "Minimal, reproducible, zero-CVE OCI images from Debian packages.\n\n"
        "Typical flow: [bold]zerocve lock image.yaml[/] → [bold]zerocve build image.yaml -o out/[/]"
        " → [bold]zerocve scan out/[/] → [bold]zerocve publish image.yaml REGISTRY/REPO:TAG[/]."
    ),
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


class RichReporter(Reporter):
    """Progress bars on stderr; silent when stderr is not a terminal or under --quiet."""

    def __init__(self) -> None:
        self._enabled = console_err.is_terminal and not state.quiet

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        if not self._enabled:
            yield Task()
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        columns.append(DownloadColumn() if (total or 0) > 10_000 else MofNCompleteColumn())
        columns.append(TimeElapsedColumn())
        with Progress(*columns, console=console_err, transient=True) as progress:
            yield _RichTask(progress, progress.add_task(description, total=total))

    def note(self, message: str) -> None:
        if not state.quiet:
            console_err.print(f"[dim]{message}[/]", highlight=False)


def reporter() -> Reporter:
    return RichReporter()
