"""``-o cyclonedx``: a CycloneDX 1.6 BOM (JSON) with the target's packages as ``components``
and the findings as ``vulnerabilities`` (a BOM + VEX in one document).

Each vulnerability entry groups the findings of one vulnerability that share a state, a fixed
version and a VEX decision. Ratings: Debian's urgency (``method: other``, source Debian) first,
then every CVSS vector (``CVSSv2``/``CVSSv3``/``CVSSv31``/``CVSSv4``). Findings suppressed by
VEX carry ``analysis`` (not_affected, or resolved for a VEX ``fixed``) with the OpenVEX
justification mapped to CycloneDX's (see ``JUSTIFICATION``); reported findings carry the Debian
state as the property ``zerocve:state``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Inventory
from zerocve.vuln.formats.interface import (
    TOOL_NAME,
    RenderOptions,
    advisory_url,
    order_key,
)
from zerocve.vuln.model import Cvss, Finding, ScanResult, Severity, Suppression
from zerocve.vuln.purls import image_purl, package_purl
from zerocve.vuln.severity import from_score, from_urgency

SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"

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


def _component(package: InstalledPackage, purl: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
        "properties": [
            {"name": "zerocve:architecture", "value": package.architecture},
            {"name": "zerocve:source", "value": package.source},
            {"name": "zerocve:sourceVersion", "value": package.source_version},
        ],
    }
    if package.licenses:
        component["licenses"] = [{"license": {"name": name}} for name in package.licenses]
    return component


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
        for ref, f in sorted({package_purl(f.package, inv): f for f in group}.items())
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
    components = {
        purl: _component(p, purl) for purl, p in ((package_purl(p, inv), p) for p in inv.packages)
    }
    image = image_purl(inv)
    subject: dict[str, Any] = {
        "type": "container" if image else "operating-system",
        "bom-ref": image or f"target:{inv.target}",
        "name": inv.image_name or inv.target,
    }
    if image:
        subject["purl"] = image
        if inv.image_digest:
            subject["version"] = inv.image_digest
    elif inv.distro is not None:
        subject["version"] = f"{inv.distro.id} {inv.distro.version_id}"
    body: dict[str, Any] = {
        "components": [components[ref] for ref in sorted(components)],
        "dependencies": [
            {"ref": subject["bom-ref"], "dependsOn": sorted(components)},
        ],
        "vulnerabilities": [_vulnerability(g, s, inv) for g, s in _groups(result)],
    }
    # The serial number derives from the content: the same scan gives the same BOM.
    digest = hashlib.sha256(json.dumps([subject, body], sort_keys=True).encode()).hexdigest()
    return {
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, f"zerocve:bom:{digest}").urn,
        "version": 1,
        "metadata": {
            "timestamp": options.timestamp_text,
            "tools": {
                "components": [
                    {"type": "application", "name": TOOL_NAME, "version": options.tool_version}
                ]
            },
            "component": subject,
        },
        **body,
    }


def render(result: ScanResult, options: RenderOptions) -> str:
    return json.dumps(document(result, options), indent=2, ensure_ascii=False) + "\n"
