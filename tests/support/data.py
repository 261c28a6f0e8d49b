"""Shared test data that lives beside the repository (``../shared/data``), as in CI."""

from __future__ import annotations

from pathlib import Path

# The clone and shared/ sit side by side: <dir>/main (this repo) and <dir>/shared.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OSV_ZIP = SHARED_DATA / "debian-osv-2025-02-12.zip"


def advisory(source: str, fixed: str) -> dict[str, object]:
    """An OSV record in the shared data's own shape, claiming ``source`` is fixed in ``fixed``."""
    return {
        "schema_version": "1.6.0",
        "id": "CVE-2099-0001",
        "modified": "2026-11-01T00:00:00Z",
        "details": "test advisory: a fix newer than the image's package",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": source},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
                "ecosystem_specific": {"urgency": "high"},
            }
        ],
    }
