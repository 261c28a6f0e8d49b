"""One retry policy for every HTTP client zerocve has: the apt repository client, the
registry client and the advisory feed fetcher (the path the rebuild loop's feed watcher
depends on).

What is worth retrying: a connection that fails or breaks off, HTTP 429 and 500/502/503/504.
The wait before attempt ``n + 1`` is ``backoff * 2**n`` seconds, capped at ``MAX_DELAY``, and
at least what a ``Retry-After`` header asks for (itself capped at ``MAX_RETRY_AFTER``). After
``retries`` retries the caller's one-line error names the last failure and the attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0

T = TypeVar("T")


class Transient(Exception):
    """A failure worth another attempt; ``str()`` describes it for the final error."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Headers(Protocol):
    def get(self, name: str, default: str, /) -> str: ...


class Answer(Protocol):
    """What the helpers read of a response: httpx's, and the repository fetcher's on
    ``http.client`` (which must not import httpx)."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def headers(self) -> Headers: ...


def retry_after(response: Answer) -> float | None:
    """The seconds a ``Retry-After`` header asks for (the delta-seconds form)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def describe(error: BaseException) -> str:
    """``ConnectError: [Errno 111] Connection refused``, or the class name alone."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def check_status(response: Answer) -> None:
    """``Transient`` for a status worth retrying (with its Retry-After)."""
    if response.status_code in TRANSIENT_STATUSES:
        raise Transient(f"HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                        retry_after(response))


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    backoff: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int, failure: Transient) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        delay = min(self.backoff * 2**attempt, MAX_DELAY)
        if failure.retry_after is not None:
            delay = max(delay, min(failure.retry_after, MAX_RETRY_AFTER))
        return delay

    def run(self, action: Callable[[], T], give_up: Callable[[Transient, int], Exception]) -> T:
        """``action()`` until it returns, raises something other than ``Transient``, or the
        attempts run out: then ``give_up(last failure, attempts made)`` is raised."""
        for attempt in range(self.retries + 1):
            try:
                return action()
            except Transient as failure:
                if attempt == self.retries:
                    raise give_up(failure, attempt + 1) from failure
                self.sleep(self.delay(attempt, failure))
        raise AssertionError("unreachable")


DEFAULT_RETRY = RetryPolicy()

__all__ = [
    "DEFAULT_RETRY",
    "Answer",
    "TRANSIENT_STATUSES",
    "RetryPolicy",
    "Transient",
    "check_status",
    "describe",
    "retry_after",
]
