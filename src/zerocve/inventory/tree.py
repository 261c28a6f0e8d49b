"""A read-only view of an image's file tree, with symlinks resolved inside the image root.

A scanner reads a handful of files (the dpkg database, os-release, copyright files) from a
tree that is not the host's: ``etc/os-release`` in a Debian image is a link to
``../usr/lib/os-release``, and an absolute link such as ``/usr/lib/os-release`` must resolve
in the image, never on the host. ``Tree`` does that resolution once, over a small
``lstat``/``read``/``list`` interface that a directory and a stack of layers both provide.
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from zerocve.errors import InventoryError
from zerocve.oci.reader import normalize

# As Linux: more than 40 links while resolving one path is a loop (ELOOP).
MAX_SYMLINKS = 40
# The largest file zerocve reads from an image (a dpkg status, an os-release, a copyright
# file): a status of 5,000 packages is about 10 MB; a larger file is refused, not read.
MAX_FILE = 64 << 20


def too_large(where: str, size: int) -> InventoryError:
    return InventoryError(
        f"{where}: {size} bytes, more than the {MAX_FILE} zerocve reads from an image: refused"
    )


@dataclass(frozen=True)
class Node:
    kind: str  # "file" | "dir" | "symlink" | "other"
    target: str = ""  # symlink target, as stored


class Tree(ABC):
    """Files of one root; paths are relative to it, ``/``-separated."""

    description: str = "tree"

    @abstractmethod
    def lstat(self, path: str) -> Node | None:
        """The entry at ``path`` (whose parents are known not to be symlinks)."""

    @abstractmethod
    def read_file(self, path: str) -> bytes:
        """Content of the regular file at the resolved ``path``."""

    @abstractmethod
    def list_dir(self, path: str) -> list[str]:
        """Names in the directory at the resolved ``path``."""

    def resolve(self, path: str) -> str:
        """``path`` with every symlink followed, ``..`` stopping at the root: as the kernel
        would inside a chroot of this tree."""
        pending = [p for p in path.split("/") if p not in ("", ".")]
        pending.reverse()
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/".join([*resolved, part])
            node = self.lstat(candidate)
            if node is None or node.kind != "symlink":
                resolved.append(part)
                continue
            hops += 1
            if hops > MAX_SYMLINKS:
                raise InventoryError(f"{self.description}: too many symlinks resolving /{path}")
            if node.target.startswith("/"):
                resolved = []
            pending.extend(reversed([p for p in node.target.split("/") if p not in ("", ".")]))
        return "/".join(resolved)

    def read(self, path: str) -> bytes | None:
        """Content of the file at ``path`` after resolution; None when absent or not a file."""
        real = self.resolve(path)
        node = self.lstat(real)
        if node is None or node.kind != "file":
            return None
        return self.read_file(real)

    def read_text(self, path: str) -> str | None:
        data = self.read(path)
        # dpkg writes UTF-8; a stray Latin-1 byte in a description must not lose the stanza.
        return None if data is None else data.decode("utf-8", errors="replace")

    def listdir(self, path: str) -> list[str] | None:
        """Sorted names in the directory at ``path``; None when it is absent or not a dir."""
        real = self.resolve(path)
        node = self.lstat(real) if real else Node("dir")
        if node is None or node.kind != "dir":
            return None
        return sorted(self.list_dir(real))


class DirectoryTree(Tree):
    """A root filesystem unpacked in a host directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def lstat(self, path: str) -> Node | None:
        try:
            st = os.lstat(self.root / path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise InventoryError(f"{self.root / path}: {e.strerror}") from e
        if stat.S_ISLNK(st.st_mode):
            return Node("symlink", os.readlink(self.root / path))
        if stat.S_ISREG(st.st_mode):
            return Node("file")
        if stat.S_ISDIR(st.st_mode):
            return Node("dir")
        return Node("other")

    def read_file(self, path: str) -> bytes:
        try:
            # resolve() has checked every component: none is a symlink, so this open stays
            # inside the root.
            with (self.root / path).open("rb") as f:
                data = f.read(MAX_FILE + 1)
        except OSError as e:
            raise InventoryError(f"{self.root / path}: {e.strerror}") from e
        if len(data) > MAX_FILE:
            raise too_large(str(self.root / path), os.path.getsize(self.root / path))
        return data

    def list_dir(self, path: str) -> list[str]:
        try:
            return os.listdir(self.root / path)
        except OSError as e:
            raise InventoryError(f"{self.root / path}: {e.strerror}") from e


__all__ = ["MAX_SYMLINKS", "DirectoryTree", "Node", "Tree", "normalize"]
