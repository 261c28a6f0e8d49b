"""``_pool.in_order``: largest first on the pool, results and errors in input order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from zerocve._pool import in_order, largest_first


def test_largest_first_keeps_input_order_among_equals() -> None:
    assert largest_first([3, 9, 1, 9, 0]) == [1, 3, 0, 2, 4]


def test_work_starts_largest_first_and_results_come_in_input_order() -> None:
    started: list[str] = []

    def work(item: str) -> str:
        started.append(item)
        return item.upper()

    with ThreadPoolExecutor(max_workers=1) as pool:
        results = in_order(pool, work, ["a", "b", "c", "d"], [1, 30, 2, 20])
    assert started == ["b", "d", "c", "a"]
    assert results == ["A", "B", "C", "D"]


def test_the_first_failure_in_input_order_is_raised() -> None:
    def work(item: int) -> int:
        if item in (1, 2):
            raise ValueError(f"item {item}")
        return item

    with ThreadPoolExecutor(max_workers=1) as pool:
        # Item 2 is larger, so it runs and fails first; item 1 comes first in input order.
        with pytest.raises(ValueError, match="^item 1$"):
            in_order(pool, work, [0, 1, 2, 3], [1, 2, 3, 1])


def test_after_a_failure_what_has_not_started_is_cancelled() -> None:
    ran: list[int] = []

    def work(item: int) -> int:
        ran.append(item)
        if item == 0:
            raise ValueError("item 0")
        return item

    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(ValueError, match="^item 0$"):
            in_order(pool, work, list(range(200)), [100] + [1] * 199)
    assert ran[0] == 0 and len(ran) < 200


def test_one_size_per_item() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError):
        in_order(pool, str, [1, 2], [1])
