"""``-o json``: zerocve's own report, stable and documented.

Shape (``schemaVersion`` 1; keys are never removed or renamed within a schema version)::

    {
      "schemaVersion": 1,
      "tool": {"name": "zerocve", "version": "0.1.0"},
      "target": "out/python",              # as the user named it
      "image": {"name": …|null, "digest": "sha256:…"|null, "purl": …|null},
      "distro": {"id": "debian", "versionId": "12", "codename": "bookworm"} | null,
      "db": {"built": "2025-02-12"|null},
      "packages": 45,                      # how many packages the target holds
      "summary": {"fixed": 2, "open": 1, …, "suppressed": 1},   # every state, zeros included
      "findings": [Finding…],              # sorted by package, architecture, vulnerability
      "suppressed": [Finding + "vex": {"status", "justification", "impactStatement",
                                        "statement"}]
    }

    Finding = {"vulnerability", "aliases": [], "package": {"name", "version", "architecture",
               "source", "sourceVersion", "purl"}, "state", "severity", "urgency"|null,
               "fixedVersion"|null, "cvss": [{"version", "vector", "score"|null}],
               "description", "note", "sources": [], "url"}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from zerocve.inventory.purls import image_purl, package_purl
from zerocve.vuln.formats.interface import (
    TOOL_NAME,
    RenderOptions,
    advisory_url,
    in_order,
    json_text,
    order_key,
)
from zerocve.vuln.model import Finding, ScanResult, State

SCHEMA_VERSION = 1


def finding_dict(f: Finding, result: ScanResult) -> dict[str, Any]:
    p = f.package
    return {
        "vulnerability": f.vulnerability,
        "aliases": list(f.aliases),
        "package": {
            "name": p.name,
            "version": p.version,
            "architecture": p.architecture,
            "source": p.source,
            "sourceVersion": p.source_version,
            "purl": package_purl(p, result.inventory),
        },
        "state": f.state.value,
        "severity": f.severity.value,
        "urgency": f.urgency,
        "fixedVersion": f.fixed_version,
        "cvss": [{"version": c.version, "vector": c.vector, "score": c.score} for c in f.cvss],
        "description": f.description,
        "note": f.note,
        "sources": list(f.sources),
        "url": advisory_url(f.vulnerability),
    }


def document(result: ScanResult, options: RenderOptions) -> dict[str, Any]:
    inv = result.inventory
    counts = Counter(f.state for f in result.findings)
    summary: dict[str, int] = {s.value: counts[s] for s in State}
    summary["suppressed"] = len(result.suppressed)
    suppressed = sorted(result.suppressed, key=lambda s: order_key(s.finding))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": options.tool_version},
        "target": inv.target,
        "image": {"name": inv.image_name, "digest": inv.image_digest, "purl": image_purl(inv)},
        "distro": None
        if inv.distro is None
        else {
            "id": inv.distro.id,
            "versionId": inv.distro.version_id,
            "codename": inv.distro.codename,
        },
        "db": {"built": result.db_built},
        "packages": len(inv.packages),
        "summary": summary,
        "findings": [finding_dict(f, result) for f in in_order(result.findings)],
        "suppressed": [
            {
                **finding_dict(s.finding, result),
                "vex": {
                    "status": s.status,
                    "justification": s.justification,
                    "impactStatement": s.impact_statement,
                    "statement": s.statement_source,
                },
            }
            for s in suppressed
        ],
    }


def render(result: ScanResult, options: RenderOptions) -> str:
    return json_text(document(result, options))
