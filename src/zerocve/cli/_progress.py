"""Rich progress bars on stderr: imported only when bars can show (stderr is a terminal and
not --quiet), so a command in a pipeline or under CI never pays for rich.progress."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import RenderableType
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

from zerocve.cli._app import NotesReporter, console_err
from zerocve.progress import Task


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


class RichReporter(NotesReporter):
    """Progress bars on stderr, one row per task in a single display (downloads run on
    several threads at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        # A live display is not output a build receipt could print again (zerocve.receipt).
        self.drew = False
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _AmountColumn(),
            TimeElapsedColumn(), console=console_err, transient=True,
        )

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        with self._lock:
            if self._active == 0:
                self._progress.start()
                self.drew = True
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
