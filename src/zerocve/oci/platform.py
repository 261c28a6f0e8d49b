"""``Platform``: which OS and CPU an image is for, the one type the image writer, the image
readers and the scan's ``--platform`` share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zerocve.errors import BuildError, UsageError

# Debian architecture → OCI architecture and variant (the Go names the runtimes use).
_FROM_DEBIAN: dict[str, tuple[str, str]] = {
    "amd64": ("amd64", ""),
    "arm64": ("arm64", "v8"),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v5"),
    "i386": ("386", ""),
    "ppc64el": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64el": ("mips64le", ""),
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def from_debian(cls, arch: str) -> Platform:
        """The platform of an image built for the Debian architecture ``arch``."""
        try:
            architecture, variant = _FROM_DEBIAN[arch]
        except KeyError:
            raise BuildError(
                f"architecture {arch!r}: no OCI platform known for it "
                f"(known: {', '.join(sorted(_FROM_DEBIAN))})"
            ) from None
        return cls("linux", architecture, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64/v8`` → Platform; ``UsageError`` on anything else."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
        return cls(*parts)

    @classmethod
    def from_json(cls, data: Any) -> Platform | None:
        """An index entry's or a config's ``platform``/``os``+``architecture`` fields."""
        if not isinstance(data, dict):
            return None
        return cls(
            str(data.get("os", "")), str(data.get("architecture", "")), str(data.get("variant", ""))
        )

    def to_json(self) -> dict[str, str]:
        document = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            document["variant"] = self.variant
        return document

    def matches(self, other: Platform) -> bool:
        """Whether an image for ``other`` serves a request for ``self`` (a variant is only
        compared when asked for; arm64's default variant is v8)."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if not self.variant:
            return True
        default = "v8" if self.architecture == "arm64" else ""
        return self.variant == (other.variant or default)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)
