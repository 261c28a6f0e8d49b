"""Image references (``REGISTRY/REPO[:TAG][@DIGEST]``), parsed the way docker and skopeo do.

Pure: no I/O. The rules follow the distribution project's reference grammar:

- the first ``/``-separated component is a registry when it contains ``.`` or ``:`` or is
  ``localhost``; unlike docker, a name without one is refused rather than sent to Docker
  Hub (zerocve never chooses a registry); under ``docker.io`` a one-component name gets the
  ``library/`` prefix;
- repository components are lowercase ``[a-z0-9]`` runs joined by ``.``, ``_``, ``__`` or
  dashes;
- a tag is ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``; with neither tag nor digest, the tag is
  ``latest``;
- a digest is ``sha256:`` + 64 or ``sha512:`` + 128 lowercase hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zerocve.errors import UsageError

DOCKER_HUB = "docker.io"
# Docker Hub's API lives on another host than its name; docker and skopeo both map it.
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """A parsed image reference. ``tag`` and ``digest`` may both be set (the digest wins
    when pulling); ``tag`` is None only when a digest was given without one."""

    registry: str
    repository: str
    tag: str | None = "latest"
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """The host:port that serves the distribution API for this registry."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``REGISTRY/REPO`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What goes in ``/v2/<repo>/manifests/<reference>``: the digest if any, else the tag."""
        if self.digest:
            return self.digest
        assert self.tag is not None  # parse_reference guarantees a tag or a digest
        return self.tag

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (the tag is kept for display)."""
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Parse ``text``; raise ``UsageError`` naming the reference and the faulty part."""
    original = text
    if not text or text != text.strip():
        raise UsageError(f"image reference {original!r}: empty or surrounded by spaces")
    if "://" in text:
        raise UsageError(
            f"image reference {original!r}: give REGISTRY/REPO[:TAG], without a URL scheme"
        )

    digest: str | None = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise UsageError(
                f"image reference {original!r}: digest {digest!r} is not sha256:<64 hex> "
                "or sha512:<128 hex>"
            )

    tag: str | None = None
    # A ':' after the last '/' separates the tag; one before it belongs to a registry port.
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise UsageError(
                f"image reference {original!r}: tag {tag!r} must match "
                "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
            )

    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
        if not _HOST.fullmatch(registry):
            raise UsageError(f"image reference {original!r}: registry {registry!r} is not a host")
    else:
        # No default registry: a bare name would silently mean Docker Hub, and zerocve
        # never picks a registry for the user.
        raise UsageError(
            f"image reference {original!r}: name the registry, as REGISTRY/REPO[:TAG] "
            "(e.g. localhost:5000/app:1 or docker.io/library/app:1)"
        )
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"

    if not path:
        raise UsageError(f"image reference {original!r}: no repository name")
    for component in path.split("/"):
        if not _COMPONENT.fullmatch(component):
            hint = " (repository names are lowercase)" if component.lower() != component else ""
            raise UsageError(
                f"image reference {original!r}: repository component {component!r} is invalid{hint}"
            )
    if len(path) > _MAX_NAME:
        raise UsageError(f"image reference {original!r}: repository name longer than 255")

    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)
