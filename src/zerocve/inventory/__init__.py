"""What is installed in a target (image, archive, registry reference, root filesystem, SBOM).

Public: ``open_inventory(target, *, platform=None, reporter=...) -> Inventory``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zerocve.inventory.targets import open_inventory

__all__ = ["open_inventory"]


def __getattr__(name: str) -> Any:
    # Imported on first use: a build needs zerocve.inventory.model, not every target reader.
    if name == "open_inventory":
        from zerocve.inventory.targets import open_inventory

        return open_inventory
    raise AttributeError(name)
