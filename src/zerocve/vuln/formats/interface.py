"""What every report format provides: ``render(result, options) -> str``. Formats return text;
only the CLI writes it out. Helpers here keep the formats' order and naming in step."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

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


# Subclasses (StrEnum), dataclasses and datetimes are not orjson's to write: json writes the
# first differently and refuses the others.
_ORJSON = (orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_SUBCLASS
           | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME)


def json_text(document: Any) -> str:
    """``json.dumps(document, indent=2, ensure_ascii=False)`` and a newline, the same text,
    written by orjson: the standard library writes indented JSON in pure Python, most of the
    rendering of a large report. What orjson refuses (a lone surrogate, an integer past 64
    bits, a key that is not text, the types above) goes to json, to be written or refused as
    before. Floats are CVSS scores (0 to 10), which both write alike."""
    try:
        return orjson.dumps(document, option=_ORJSON).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
