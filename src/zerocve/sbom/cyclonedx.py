"""``zerocve sbom -o cyclonedx-json``: the inventory's CycloneDX 1.6 document
(``zerocve.bom.cyclonedx``) as JSON text."""

from __future__ import annotations

import json

from zerocve.bom.common import Checksums, creation_time
from zerocve.bom.cyclonedx import bom
from zerocve.inventory.model import Inventory


def render(
    inventory: Inventory, *, checksums: Checksums | None = None, epoch: int | None = None
) -> str:
    """The CycloneDX 1.6 JSON SBOM, dated ``epoch`` (a build's date), else now."""
    document = bom(inventory, checksums=checksums, timestamp=creation_time(epoch))
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


__all__ = ["render"]
