"""Shared test data that lives beside the repository (``../shared/data``), as in CI."""

from __future__ import annotations

from pathlib import Path

# The clone and shared/ sit side by side: <dir>/main (this repo) and <dir>/shared.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OSV_ZIP = SHARED_DATA / "debian-osv-2025-02-12.zip"
