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


def start(
    pool: Executor, work: Callable[[T], R], items: Sequence[T], sizes: Sequence[int]
) -> list[Future[R]]:
    """``work(item)`` for each of ``items`` submitted to ``pool``, largest ``sizes`` first;
    the futures in input order (``collect`` them)."""
    if len(sizes) != len(items):
        raise ValueError("one size per item")
    futures: dict[int, Future[R]] = {}
    for index in largest_first(sizes):
        futures[index] = pool.submit(work, items[index])
    return [futures[index] for index in range(len(items))]


def collect(futures: Sequence[Future[R]]) -> list[R]:
    """The results of ``futures`` in order; on the first failure, what has not started yet
    is cancelled (it would only be thrown away) and the failure raised."""
    try:
        return [future.result() for future in futures]
    finally:
        cancel(futures)


def cancel(futures: Sequence[Future[R]]) -> None:
    for future in futures:
        future.cancel()


def in_order(
    pool: Executor, work: Callable[[T], R], items: Sequence[T], sizes: Sequence[int]
) -> list[R]:
    """``[work(item) for item in items]``, run on ``pool`` largest ``sizes`` first."""
    return collect(start(pool, work, items, sizes))
