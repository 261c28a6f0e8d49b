"""zerocve.path_filter (dpkg's path-exclude/path-include rule) and rootfs.kept_members, pure;
the glob matching is checked against glibc's own fnmatch(3), which dpkg calls."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from zerocve.assemble.rootfs import kept_members
from zerocve.oci.layer import Entry, EntryKind
from zerocve.path_filter import PathFilter, check_pattern

_libc = ctypes.CDLL(ctypes.util.find_library("c"))


def _glibc_matches(pattern: str, path: str) -> bool:
    return _libc.fnmatch(pattern.encode(), path.encode(), 0) == 0  # dpkg passes no flags


PATHS = [
    "/usr/share/doc", "/usr/share/doc/libc6", "/usr/share/doc/libc6/copyright",
    "/usr/share/doc/libc6/changelog.Debian.gz", "/usr/share/doc/gawk/examples/lib/x.awk",
    "/usr/share/doc/gawk/examples/copyright", "/usr/share/man/man1/ls.1.gz", "/usr/share/man",
    "/usr/share/info/dir", "/usr/share/lintian/overrides/libc6", "/usr/share/locale/de/x.mo",
    "/usr/bin/python3", "/.hidden/x", "/usr/share/doc-base/x", "/etc/[odd]",
]
PATTERNS = [
    "/usr/share/doc/*", "/usr/share/doc/*/copyright", "/usr/share/man/*", "/usr/*/READ*",
    "/usr/share/doc/libc?", "/usr/share/[dm]*", "/usr/share/[!d]*", "/*", "/usr/share/doc*",
    "/etc/[odd]", "/etc/[", "/usr/share/locale/*/x.mo",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_match_as_glibc_fnmatch_does(pattern: str) -> None:
    check_pattern(pattern)
    only = PathFilter(exclude=(pattern,), include=())
    for path in PATHS:
        assert only.leaves_out(path) == _glibc_matches(pattern, path), (pattern, path)


def test_default_rule_keeps_copyrights_and_their_directories() -> None:
    slim = PathFilter()
    assert slim.leaves_out("/usr/share/doc/libc6/changelog.Debian.gz")
    assert slim.leaves_out("/usr/share/man/man1/ls.1.gz")
    assert slim.leaves_out("/usr/share/info/dir")
    assert slim.leaves_out("/usr/share/lintian/overrides/libc6")
    assert not slim.leaves_out("/usr/share/doc/libc6/copyright")
    assert not slim.leaves_out("/usr/share/doc")  # '*' after '/' needs the '/' to match
    # a directory or symlink under the include's literal prefix stays, as dpkg keeps it
    assert not slim.leaves_out("/usr/share/doc/libc6", container=True)
    assert not slim.leaves_out("/usr/share/doc/libpython3.11", container=True)
    assert slim.leaves_out("/usr/share/doc/libpython3.11")  # a file there goes
    assert slim.leaves_out("/usr/share/man/man1", container=True)
    assert not slim.leaves_out("/usr/bin/python3")
    assert not PathFilter(exclude=(), include=()).leaves_out("/usr/share/doc/x/y")


def _file(path: str) -> Entry:
    return Entry(path, EntryKind.FILE, 0o644, data=path.encode())


def _dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, 0o755)


def test_kept_members_keep_parents_and_turn_orphaned_hard_links_into_copies() -> None:
    members = [
        _dir("usr"), _dir("usr/share"), _dir("usr/share/man"), _dir("usr/share/man/man1"),
        _file("usr/share/man/man1/a.1.gz"), _file("usr/share/man/man1/keep.1.gz"),
        Entry("usr/bin/a", EntryKind.HARDLINK, 0o755, target="usr/share/man/man1/a.1.gz",
              data=b"content"),
        _dir("usr/share/doc"), _dir("usr/share/doc/p"), _file("usr/share/doc/p/README"),
    ]
    keep = PathFilter(exclude=("/usr/share/man/*", "/usr/share/doc/*"),
                      include=("/usr/share/man/man1/keep.1.gz",))
    kept = {m.path: m for m in kept_members(members, keep)}
    # man1 is not under the include's literal prefix (the whole path): dpkg would drop it and
    # then fail to unpack keep.1.gz; zerocve keeps the parent of what it keeps
    assert sorted(kept) == ["usr", "usr/bin/a", "usr/share", "usr/share/doc", "usr/share/man",
                            "usr/share/man/man1", "usr/share/man/man1/keep.1.gz"]
    assert kept["usr/bin/a"].kind is EntryKind.FILE and kept["usr/bin/a"].data == b"content"
    assert kept_members(members, PathFilter(exclude=(), include=())) == members
