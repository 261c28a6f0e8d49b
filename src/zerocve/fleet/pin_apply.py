"""``zerocve pin``'s I/O: the text files under a directory, the registry (one HEAD per tag),
writing the files, and git. The rewriting itself is ``zerocve.fleet.pin``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve.errors import GitError, RegistryError, UsageError, ZerocveError
from zerocve.fleet.diff import diff_packages
from zerocve.fleet.pin import Move, Pinned, find_pinned, rewrite
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.settings import Settings

MAX_FILE = 4 << 20  # bytes: larger files are data, not manifests
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__"})

Resolver = Callable[[Mapping[tuple[str, str], Pinned]], dict[tuple[str, str], str]]


@dataclass(frozen=True)
class FileChange:
    path: Path  # relative to the directory pinned
    before: str
    after: str


@dataclass(frozen=True)
class PinPlan:
    root: Path
    changes: tuple[FileChange, ...]
    moves: tuple[Move, ...]


def text_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(relative path, text) of every regular UTF-8 file under ``root`` (symlinks, VCS
    metadata, binary and very large files skipped), in a stable order."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE:
                continue
            try:
                data = path.read_bytes()
            except OSError as e:
                raise UsageError(f"{path}: cannot read: {e.strerror}") from e
            if b"\0" in data:
                continue
            try:
                yield path.relative_to(root), data.decode("utf-8")
            except UnicodeDecodeError:
                continue


def registry_resolver(settings: Settings) -> Resolver:
    """Each (REGISTRY/REPO, TAG)'s digest now, by one HEAD per tag; a tag the registry does
    not know is a RegistryError naming where it is referenced."""

    def resolve(wanted: Mapping[tuple[str, str], Pinned]) -> dict[tuple[str, str], str]:
        current: dict[tuple[str, str], str] = {}
        clients: dict[str, RegistryClient] = {}
        try:
            for (name, tag), where in sorted(wanted.items()):
                ref = parse_reference(f"{name}:{tag}")
                client = clients.get(ref.api_host)
                if client is None:
                    client = clients[ref.api_host] = RegistryClient(
                        ref.api_host, transport=settings.transport,
                        auth_files=settings.registry_auth,
                    )
                digest = client.head_manifest(ref.repository, tag)
                if digest is None:
                    raise RegistryError(
                        f"{name}:{tag}: no such tag in the registry (pinned at line "
                        f"{where.line}); fix the reference or push the tag"
                    )
                current[(name, tag)] = digest
        finally:
            for client in clients.values():
                client.close()
        return current

    return resolve


def plan(root: Path, resolve: Resolver) -> PinPlan:
    """What pinning ``root`` would change, nothing written."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    files = [(path, text, find_pinned(text)) for path, text in text_files(root)]
    wanted: dict[tuple[str, str], Pinned] = {}
    for _, _, found in files:
        for pinned in found:
            wanted.setdefault(pinned.key, pinned)
    current = resolve(wanted)
    changes = []
    moves: dict[tuple[str, str, str], Move] = {}
    for path, text, found in files:
        new = rewrite(text, current)
        if new != text:
            changes.append(FileChange(path, text, new))
        for pinned in found:
            now = current[pinned.key]
            if now != pinned.digest:
                moves.setdefault(
                    (pinned.name, pinned.tag, pinned.digest),
                    Move(pinned.name, pinned.tag, pinned.digest, now),
                )
    return PinPlan(root, tuple(changes), tuple(moves.values()))


def package_changes(move: Move) -> Move:
    """``move`` with its image's package changes, read from the two images in the registry
    (a previous image that can no longer be read says so instead)."""
    from zerocve.inventory.targets import open_inventory

    try:
        before = open_inventory(f"docker://{move.name}@{move.before}")
        after = open_inventory(f"docker://{move.name}@{move.after}")
    except ZerocveError as e:
        return Move(move.name, move.tag, move.before, move.after,
                    (f"(package changes unknown: {e.diagnostics()})",))
    lines = tuple(
        f"{c.name}:{c.architecture} {c.before or '-'} → {c.after or '-'}"
        for c in diff_packages(before.packages, after.packages)
    )
    return Move(move.name, move.tag, move.before, move.after, lines)


def write(plan: PinPlan) -> None:
    for change in plan.changes:
        write_atomic(plan.root / change.path, change.after.encode(), error=UsageError)


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False,
            timeout=120,
        )
    except FileNotFoundError as e:
        raise GitError("git: not found on PATH; install git to use --commit") from e
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"{root}: git {args[0]}: {lines[-1] if lines else 'failed'}")
    return done.stdout


def check_committable(plan: PinPlan) -> None:
    """Refuse before anything is written: ``root`` must be in a git work tree and the files
    to change must have no uncommitted changes of their own (they would be committed too)."""
    try:
        _git(plan.root, "rev-parse", "--show-toplevel")
    except GitError as e:
        raise UsageError(f"{plan.root}: not inside a git work tree (--commit needs one)") from e
    if not plan.changes:
        return
    dirty = _git(plan.root, "status", "--porcelain", "--", *(str(c.path) for c in plan.changes))
    if dirty.strip():
        first = dirty.strip().splitlines()[0][3:]
        raise UsageError(
            f"{plan.root / first}: has uncommitted changes; commit or stash them before "
            "zerocve pin --commit"
        )


def commit(plan: PinPlan, branch: str, message: str) -> str:
    """Commit the written files on a new branch ``branch`` (switched to); the commit id."""
    _git(plan.root, "switch", "--create", branch)
    _git(plan.root, "add", "--", *(str(c.path) for c in plan.changes))
    _git(plan.root, "commit", "--quiet", f"--message={message}")
    return _git(plan.root, "rev-parse", "HEAD").strip()
