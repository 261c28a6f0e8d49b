"""Which code decides an image's bytes, as a digest for the build cache's keys.

A cached image may be reused only by a builder that would make the same bytes. Listing the
modules that shape them by hand went stale (the embedded SBOM's modules were missed), so the
list is derived: every ``zerocve`` module the image builder imports, directly or through
another, found by reading the sources' import statements (lazy imports inside functions
included). That is a superset of what contributes bytes: an upgrade that touches any of them
costs one rebuild, never a wrong image.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from zerocve import __version__

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/zerocve
BUILDER = "zerocve.assemble.image"


def _file(module: str, root: Path) -> Path | None:
    relative = Path(*module.split(".")[1:])
    if relative == Path():
        return root / "__init__.py"
    for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """The ``zerocve`` modules ``path`` imports (``from zerocve.x import y`` may name a
    module ``zerocve.x.y`` or a name in ``zerocve.x``: both are returned, and the caller
    keeps those that exist)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "zerocve" or name.startswith("zerocve.")}


def contributing_files(root: Path = PACKAGE_ROOT, start: str = BUILDER) -> list[Path]:
    """The source files of ``start`` and every ``zerocve`` module it imports, transitively
    (with each package's ``__init__``, which Python runs first), sorted."""
    seen: dict[str, Path] = {}
    pending = [start]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _file(module, root)
        if path is None:
            continue
        seen[module] = path
        parents = [module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)]
        pending += parents + sorted(_imports(path, module))
    return sorted(set(seen.values()))


@functools.cache
def code_digest(root: Path = PACKAGE_ROOT) -> str:
    """SHA256 over zerocve's version and the contributing files' paths and bytes."""
    digest = hashlib.sha256(__version__.encode() + b"\0")
    for path in contributing_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
