"""Report formats: one module per format, each ``render(result, options) -> str``.

``renderer(OutputFormat.SARIF)`` returns the format's ``render``; only the CLI writes."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from zerocve.vuln.formats import cyclonedx, json_format, openvex, sarif, table
from zerocve.vuln.formats.interface import Renderer, RenderOptions


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    CYCLONEDX = "cyclonedx"
    OPENVEX = "openvex"


def renderer(fmt: OutputFormat) -> Renderer:
    match fmt:
        case OutputFormat.TABLE:
            return table.render
        case OutputFormat.JSON:
            return json_format.render
        case OutputFormat.SARIF:
            return sarif.render
        case OutputFormat.CYCLONEDX:
            return cyclonedx.render
        case OutputFormat.OPENVEX:
            return openvex.render
    assert_never(fmt)


__all__ = ["OutputFormat", "RenderOptions", "Renderer", "renderer"]
