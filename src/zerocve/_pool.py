"""Work on a thread pool, largest first, results in input order.

A pool that takes its tasks in input order may start the largest one last, and then the
other threads sit idle while it runs alone: starting the largest first leaves small tasks
for the end, so the threads finish together. Results still come back in input order, so
what a caller builds from them does not depend on the schedule, and the exception raised is
the one of the first failing item in input order (every task has run or been cancelled by
then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def largest_first(sizes: Sequence[int]) -> list[int]:
    """The indices of ``sizes``, largest first; equal sizes in input order."""
    return sorted(range(len(sizes)), key=lambda i: -sizes[i])


def in_order(
    pool: Executor, work: Callable[[T], R], items: Sequence[T], sizes: Sequence[int]
) -> list[R]:
    """``[work(item) for item in items]``, run on ``pool`` largest ``sizes`` first."""
    if len(sizes) != len(items):
        raise ValueError("one size per item")
    futures: dict[int, Future[R]] = {}
    try:
        for index in largest_first(sizes):
            futures[index] = pool.submit(work, items[index])
        return [futures[index].result() for index in range(len(items))]
    finally:
        # After a failure, what has not started yet would only be thrown away.
        for future in futures.values():
            future.cancel()
