"""What is installed in a target (image, archive, registry reference, root filesystem, SBOM).

Public: ``open_inventory(target, *, platform=None, reporter=...) -> Inventory``.
"""

from zerocve.inventory.targets import open_inventory

__all__ = ["open_inventory"]
