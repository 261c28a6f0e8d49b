"""The packages a target holds, and the release it is based on."""

from __future__ import annotations

from dataclasses import dataclass, field

from zerocve.debian.model import InstalledPackage


@dataclass(frozen=True)
class Distro:
    id: str  # "debian"
    version_id: str  # "12"
    codename: str  # "bookworm"

    @property
    def purl_qualifier(self) -> str:
        return f"{self.id}-{self.version_id}"


@dataclass(frozen=True)
class Inventory:
    target: str  # as the user named it
    distro: Distro | None
    packages: tuple[InstalledPackage, ...]
    image_digest: str | None = None  # manifest digest, when the target is an image
    image_name: str | None = None  # repository reference, when known
    # Problems that did not stop the inventory, e.g. "var/lib/dpkg/status: 2 junk stanzas
    # skipped"; reports show them.
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_image(self) -> bool:
        """An image (named or with a digest), as opposed to a root filesystem."""
        return self.image_digest is not None or self.image_name is not None
