"""Progress reporting. Library code calls a ``Reporter``; the default does nothing, the CLI
passes one that draws rich progress bars. Nothing below the CLI prints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Reporter:
    """No-op reporter; subclasses draw bars or record metrics."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        yield Task()

    def note(self, message: str) -> None:
        """A short informational line (e.g. 'using cached index')."""


class Task:
    def advance(self, amount: float = 1) -> None:
        """Move the bar by ``amount`` (bytes, packages, records...)."""


NULL_REPORTER = Reporter()
