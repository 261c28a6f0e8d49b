"""``-o sarif``: SARIF 2.1.0, one rule per vulnerability, one result per (vulnerability,
package). Findings suppressed by VEX are results with an accepted external suppression, so
code-scanning dashboards show them as dismissed rather than forgetting them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from zerocve.inventory.purls import package_purl
from zerocve.vuln.formats.interface import (
    TOOL_NAME,
    RenderOptions,
    advisory_url,
    json_text,
    order_key,
)
from zerocve.vuln.model import Finding, ScanResult, Severity, Suppression

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
DPKG_STATUS = "var/lib/dpkg/status"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNKNOWN: "warning",  # not assessed yet: neither loud nor hidden
}
# GitHub code scanning reads "security-severity" (a CVSS-like score) to rank alerts; without
# a CVSS score, the middle of the band for Debian's severity.
_BAND_SCORE = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
    Severity.NEGLIGIBLE: 0.5,
}


def _score(findings: Iterable[Finding]) -> float | None:
    findings = list(findings)
    scores = [c.score for f in findings for c in f.cvss if c.score is not None]
    if scores:
        return max(scores)
    bands = [_BAND_SCORE[f.severity] for f in findings if f.severity in _BAND_SCORE]
    return max(bands, default=None)


def _rule(vulnerability: str, findings: list[Finding]) -> dict[str, Any]:
    worst = max(findings, key=lambda f: f.severity.rank)
    description = next((f.description for f in findings if f.description), "")
    packages = sorted({f.package.source for f in findings})
    short = f"{vulnerability} in {', '.join(packages)}"
    properties: dict[str, Any] = {
        "tags": ["security", "vulnerability", worst.severity.value],
    }
    score = _score(findings)
    if score is not None:
        properties["security-severity"] = f"{score:.1f}"
    return {
        "id": vulnerability,
        "shortDescription": {"text": short},
        "fullDescription": {"text": description or short},
        "helpUri": advisory_url(vulnerability),
        "help": {
            "text": f"{short}. Debian: {advisory_url(vulnerability)}",
            "markdown": f"**{short}**\n\n{description}\n\n[Debian security tracker]"
            f"({advisory_url(vulnerability)})",
        },
        "defaultConfiguration": {"level": LEVEL[worst.severity]},
        "properties": properties,
    }


def _message(f: Finding) -> str:
    p = f.package
    text = f"{p.name} {p.version}"
    if (p.source, p.source_version) != (p.name, p.version):
        text += f" (source {p.source} {p.source_version})"
    text += f" is affected by {f.vulnerability} ({f.state.value}, severity {f.severity.value})"
    if f.fixed_version:
        text += f"; fixed in {f.fixed_version}"
    if f.note:
        text += f"; {f.note}"
    return text + "."


def _result(
    f: Finding, rule_index: int, result: ScanResult, suppression: Suppression | None
) -> dict[str, Any]:
    purl = package_purl(f.package, result.inventory)
    where = f.package.location or DPKG_STATUS
    entry: dict[str, Any] = {
        "ruleId": f.vulnerability,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "kind": "fail",
        "message": {"text": _message(f)},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": quote(where)}},
                "logicalLocations": [
                    {"name": f.package.name, "fullyQualifiedName": purl, "kind": "package"}
                ],
            }
        ],
        "partialFingerprints": {
            "zerocve/v1": hashlib.sha256(
                f"{f.vulnerability}\0{f.package.name}\0{f.package.architecture}".encode()
            ).hexdigest()
        },
        "properties": {
            "state": f.state.value,
            "severity": f.severity.value,
            "installedVersion": f.package.version,
            "fixedVersion": f.fixed_version,
            "purl": purl,
        },
    }
    if suppression is not None:
        reason = suppression.justification or suppression.impact_statement
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"VEX {suppression.status}: {reason} "
                f"({suppression.statement_source})",
            }
        ]
    return entry


def document(result: ScanResult, options: RenderOptions) -> dict[str, Any]:
    everything: list[tuple[Finding, Suppression | None]] = sorted(
        [*((f, None) for f in result.findings), *((s.finding, s) for s in result.suppressed)],
        key=lambda pair: order_key(pair[0]),
    )
    by_vuln: dict[str, list[Finding]] = {}
    for f, _ in everything:
        by_vuln.setdefault(f.vulnerability, []).append(f)
    rule_ids = sorted(by_vuln)
    index = {v: i for i, v in enumerate(rule_ids)}
    inv = result.inventory
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": options.tool_version,
                        "semanticVersion": options.tool_version,
                        "rules": [_rule(v, by_vuln[v]) for v in rule_ids],
                    }
                },
                "results": [
                    _result(f, index[f.vulnerability], result, suppression)
                    for f, suppression in everything
                ],
                "properties": {
                    "target": inv.target,
                    "imageDigest": inv.image_digest,
                    "distro": None if inv.distro is None else inv.distro.purl_qualifier,
                    "advisoriesBuilt": result.db_built,
                },
            }
        ],
    }


def render(result: ScanResult, options: RenderOptions) -> str:
    return json_text(document(result, options))
