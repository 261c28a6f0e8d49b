"""``-o cyclonedx``: a CycloneDX 1.6 BOM (JSON) with the target's packages as ``components``
and the findings as ``vulnerabilities`` (a BOM + VEX in one document). The BOM is the one
``zerocve sbom -o cyclonedx-json`` writes (``zerocve.bom.cyclonedx.bom``); each
``affects[].ref`` is a component's ``bom-ref``.

Each vulnerability entry groups the findings of one vulnerability that share a state, a fixed
version and a VEX decision. Ratings: Debian's urgency (``method: other``, source Debian) first,
then every CVSS vector (``CVSSv2``/``CVSSv3``/``CVSSv31``/``CVSSv4``). Findings suppressed by
VEX carry ``analysis`` (not_affected, or resolved for a VEX ``fixed``) with the OpenVEX
justification mapped to CycloneDX's (see ``JUSTIFICATION``); reported findings carry the Debian
state as the property ``zerocve:state``.
"""

from __future__ import annotations

from typing import Any

from zerocve.bom.cyclonedx import bom as cyclonedx_bom
from zerocve.bom.cyclonedx import component_ref, serial_number
from zerocve.inventory.model import Inventory
from zerocve.vuln.formats.interface import (
    RenderOptions,
    advisory_url,
    json_text,
    order_key,
)
from zerocve.vuln.model import Cvss, Finding, ScanResult, Severity, Suppression
from zerocve.vuln.severity import from_score, from_urgency

# OpenVEX justification → CycloneDX impactAnalysisJustification.
JUSTIFICATION = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
ANALYSIS_STATE = {"not_affected": "not_affected", "fixed": "resolved"}
_CVSS_METHOD = {"2.0": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}
_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.NEGLIGIBLE: "info",
    Severity.UNKNOWN: "unknown",
}


def _cvss_rating(c: Cvss) -> dict[str, Any] | None:
    method = _CVSS_METHOD.get(c.version)
    if method is None:
        return None
    rating: dict[str, Any] = {"method": method, "vector": c.vector}
    if c.score is not None:
        rating["score"] = c.score
        rating["severity"] = "none" if c.score == 0 else _SEVERITY[from_score(c.score)]
    return rating


def _ratings(f: Finding) -> list[dict[str, Any]]:
    ratings: list[dict[str, Any]] = []
    if f.urgency:
        ratings.append(
            {
                "source": {"name": "Debian", "url": advisory_url(f.vulnerability)},
                "severity": _SEVERITY[from_urgency(f.urgency)],
                "method": "other",
                "justification": f"Debian urgency: {f.urgency}",
            }
        )
    ratings.extend(r for r in map(_cvss_rating, f.cvss) if r is not None)
    return ratings


def _vulnerability(
    group: list[Finding], suppression: Suppression | None, inv: Inventory
) -> dict[str, Any]:
    first = group[0]
    entry: dict[str, Any] = {
        "id": first.vulnerability,
        "source": {"name": "Debian", "url": advisory_url(first.vulnerability)},
    }
    if first.aliases:
        entry["references"] = [
            {"id": alias, "source": {"name": "Debian", "url": advisory_url(alias)}}
            for alias in first.aliases
        ]
    ratings = _ratings(first)
    if ratings:
        entry["ratings"] = ratings
    if first.description:
        entry["description"] = first.description
    if first.fixed_version:
        entry["recommendation"] = f"Upgrade {first.package.source} to {first.fixed_version}."
    if suppression is not None:
        analysis: dict[str, Any] = {"state": ANALYSIS_STATE[suppression.status]}
        if suppression.justification:
            analysis["justification"] = JUSTIFICATION[suppression.justification]
        detail = suppression.impact_statement or suppression.justification
        analysis["detail"] = f"{detail} (VEX: {suppression.statement_source})"
        entry["analysis"] = analysis
    entry["affects"] = [
        {
            "ref": ref,
            "versions": [{"version": f.package.version, "status": "affected"}],
        }
        for ref, f in sorted({component_ref(f.package, inv): f for f in group}.items())
    ]
    properties = [{"name": "zerocve:state", "value": first.state.value}]
    if first.note:
        properties.append({"name": "zerocve:note", "value": first.note})
    entry["properties"] = properties
    return entry


def _groups(result: ScanResult) -> list[tuple[list[Finding], Suppression | None]]:
    pairs: list[tuple[Finding, Suppression | None]] = sorted(
        [*((f, None) for f in result.findings), *((s.finding, s) for s in result.suppressed)],
        key=lambda pair: (pair[0].vulnerability, order_key(pair[0])),
    )
    # Keys arrive in (vulnerability, package) order; a dict keeps that order.
    groups: dict[tuple[object, ...], tuple[list[Finding], Suppression | None]] = {}
    for f, s in pairs:
        decision = None if s is None else (s.status, s.justification, s.impact_statement)
        key = (f.vulnerability, f.state, f.fixed_version, decision)
        groups.setdefault(key, ([], s))[0].append(f)
    return list(groups.values())


def document(result: ScanResult, options: RenderOptions) -> dict[str, Any]:
    inv = result.inventory
    bom = cyclonedx_bom(inv, timestamp=options.timestamp_text, tool_version=options.tool_version)
    bom["vulnerabilities"] = [_vulnerability(g, s, inv) for g, s in _groups(result)]
    # Derived from the content, vulnerabilities included: the same scan gives the same BOM.
    bom["serialNumber"] = serial_number(bom)
    return bom


def render(result: ScanResult, options: RenderOptions) -> str:
    return json_text(document(result, options))
