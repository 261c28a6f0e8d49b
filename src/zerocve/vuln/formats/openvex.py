"""``-o openvex``: an OpenVEX 0.2.0 document about the scanned target.

Reported findings become ``affected`` statements whose ``action_statement`` says what to do
("Upgrade openssl to 3.0.13-1." or why nothing can be done yet); findings suppressed by a VEX
statement keep that statement's status, justification and impact statement. Findings that
share a vulnerability and a statement are one statement; its product is the image purl with
the packages as subcomponents, or the package purls themselves when the target is not an
image. ``@id`` derives from the statements (same findings, same id); ``timestamp`` is
SOURCE_DATE_EPOCH when set. A clean scan gives an empty ``statements`` list.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from zerocve.inventory.model import Inventory
from zerocve.inventory.purls import image_purl, package_purl
from zerocve.vuln.formats.interface import TOOL_NAME, RenderOptions, json_text, order_key
from zerocve.vuln.model import Finding, ScanResult, Suppression
from zerocve.vuln.vex import CONTEXT


def action(f: Finding) -> str:
    if f.fixed_version:
        return f"Upgrade {f.package.source} to {f.fixed_version}."
    text = f"No fixed version in Debian yet ({f.state.value}"
    return text + (f": {f.note})." if f.note else ").")


def _fields(f: Finding, s: Suppression | None) -> dict[str, str]:
    """The statement's fields other than vulnerability and products."""
    if s is None:
        return {
            "status": "affected",
            "action_statement": action(f),
            "status_notes": f"Debian: {f.state.value}, severity {f.severity.value}",
        }
    fields = {"status": s.status}
    # The OpenVEX schema wants exactly one of justification and impact_statement for
    # not_affected; a statement that gave both keeps the second as notes.
    if s.justification:
        fields["justification"] = s.justification
        if s.impact_statement:
            fields["status_notes"] = s.impact_statement
    elif s.impact_statement:
        fields["impact_statement"] = s.impact_statement
    return fields


def _products(purls: list[str], inv: Inventory) -> list[dict[str, Any]]:
    image = image_purl(inv)
    if image is None:
        return [{"@id": p} for p in purls]
    return [{"@id": image, "subcomponents": [{"@id": p} for p in purls]}]


def statements(result: ScanResult) -> list[dict[str, Any]]:
    inv = result.inventory
    pairs: list[tuple[Finding, Suppression | None]] = sorted(
        [*((f, None) for f in result.findings), *((s.finding, s) for s in result.suppressed)],
        key=lambda pair: (pair[0].vulnerability, order_key(pair[0])),
    )
    grouped: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for f, s in pairs:
        vulnerability: dict[str, Any] = {"name": f.vulnerability}
        if f.aliases:
            vulnerability["aliases"] = sorted(set(f.aliases))
        head = {"vulnerability": vulnerability, **_fields(f, s)}
        key = json.dumps(head, sort_keys=True)
        purls = grouped.setdefault(key, (head, []))[1]
        purl = package_purl(f.package, inv)
        if purl not in purls:
            purls.append(purl)
    return [{**head, "products": _products(purls, inv)} for head, purls in grouped.values()]


def document(result: ScanResult, options: RenderOptions) -> dict[str, Any]:
    body = statements(result)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {
        "@context": CONTEXT,
        "@id": uuid.uuid5(uuid.NAMESPACE_URL, f"zerocve:openvex:{digest}").urn,
        "author": TOOL_NAME,
        "timestamp": options.timestamp_text,
        "version": 1,
        "tooling": f"{TOOL_NAME} {options.tool_version}",
        "statements": body,
    }


def render(result: ScanResult, options: RenderOptions) -> str:
    return json_text(document(result, options))


def triage(
    results: Sequence[ScanResult], epoch: int | None
) -> dict[str | None, list[dict[str, Any]]]:
    """Each platform's scan as an OpenVEX document (every finding with its status as triaged:
    affected, or what a VEX statement said), dated by the build, by platform: what `publish
    --sign` and the fleet's signed promotion attest. A platform without findings has nothing
    to state (OpenVEX wants one statement at least)."""
    options = RenderOptions() if epoch is None else RenderOptions(
        timestamp=datetime.fromtimestamp(epoch, UTC))
    return {result.platform: [document(result, options)] for result in results
            if statements(result)}
