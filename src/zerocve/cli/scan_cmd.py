"""`zerocve scan`."""

from __future__ import annotations

from zerocve.cli._app import app  # noqa: F401
