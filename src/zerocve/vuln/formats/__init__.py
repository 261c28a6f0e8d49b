"""Report formats: one module per format, each ``render(result, options) -> str``.

``renderer(OutputFormat.SARIF)`` returns the format's ``render``; only the CLI writes. A
format's module is imported when it is asked for: the table draws with rich, CycloneDX
builds on the SBOM writer, and a scan printing JSON needs neither."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

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
            from zerocve.vuln.formats import table

            return table.render
        case OutputFormat.JSON:
            from zerocve.vuln.formats import json_format

            return json_format.render
        case OutputFormat.SARIF:
            from zerocve.vuln.formats import sarif

            return sarif.render
        case OutputFormat.CYCLONEDX:
            from zerocve.vuln.formats import cyclonedx

            return cyclonedx.render
        case OutputFormat.OPENVEX:
            from zerocve.vuln.formats import openvex

            return openvex.render
    assert_never(fmt)


__all__ = ["OutputFormat", "RenderOptions", "Renderer", "renderer"]
