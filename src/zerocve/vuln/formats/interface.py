"""What every report format provides: ``render(result, options) -> str``. Formats return text;
only the CLI writes it out. Helpers here keep the formats' order and naming in step."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from zerocve import __version__
from zerocve.vuln.model import Finding, ScanResult

TOOL_NAME = "zerocve"
TRACKER_URL = "https://security-tracker.debian.org/tracker/"


def _now() -> datetime:
    """The current time; the CLI passes ``Settings.now()`` (SOURCE_DATE_EPOCH when set, for
    reproducible reports)."""
    return datetime.now(tz=UTC).replace(microsecond=0)


@dataclass(frozen=True)
class RenderOptions:
    show_suppressed: bool = False  # table: list suppressed findings too (others always carry them)
    tool_version: str = __version__
    timestamp: datetime = field(default_factory=_now)
    width: int | None = None  # table only: the terminal's width; None: as wide as the table
    color: bool = False  # table only: ANSI colours (the CLI sets it for a terminal)

    @property
    def timestamp_text(self) -> str:
        return self.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Renderer(Protocol):
    def __call__(self, result: ScanResult, options: RenderOptions) -> str: ...


def order_key(f: Finding) -> tuple[str, str, str, str]:
    """The machine-readable formats' order: by package, then vulnerability (stable diffs)."""
    return (f.package.name, f.package.architecture, f.package.version, f.vulnerability)


def in_order(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=order_key)


def advisory_url(vulnerability: str) -> str:
    return TRACKER_URL + vulnerability
