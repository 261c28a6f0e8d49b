"""dpkg version order, exactly as ``dpkg --compare-versions`` (lib/dpkg/version.c)."""

from __future__ import annotations

import functools
from typing import Any


def parse(version: str) -> tuple[int, str, str]:
    """Split ``[epoch:]upstream[-revision]``; raises ValueError on junk."""
    text = version.strip()
    epoch = 0
    if ":" in text:
        head, text = text.split(":", 1)
        if not head.isdigit():
            raise ValueError(f"invalid version {version!r}: epoch is not a number")
        epoch = int(head)
    upstream, sep, revision = text.rpartition("-")
    if not sep:
        upstream, revision = text, ""
    if not upstream:
        raise ValueError(f"invalid version {version!r}: empty upstream part")
    return epoch, upstream, revision


def _order(ch: str) -> int:
    if ch == "~":
        return -1
    if ch.isdigit():
        return 0
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _compare_part(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


@functools.lru_cache(maxsize=65536)
def compare(a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` sorts before, equal to or after ``b``."""
    if a == b:
        return 0
    ea, ua, ra = parse(a)
    eb, ub, rb = parse(b)
    if ea != eb:
        return -1 if ea < eb else 1
    result = _compare_part(ua, ub) or _compare_part(ra, rb)
    return (result > 0) - (result < 0)


_KEY = functools.cmp_to_key(compare)


def sort_key(version: str) -> Any:
    """A key for ``sorted(versions, key=sort_key)`` in dpkg order."""
    return _KEY(version)


_RELATIONS = {
    "<<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    "=": lambda c: c == 0,
    ">=": lambda c: c >= 0,
    ">>": lambda c: c > 0,
    # Obsolete spellings dpkg still accepts.
    "<": lambda c: c <= 0,
    ">": lambda c: c >= 0,
}


def satisfies(version: str, relation: str, target: str) -> bool:
    """Whether ``version RELATION target`` holds, e.g. ``satisfies("1.2-1", ">=", "1.0")``."""
    try:
        check = _RELATIONS[relation]
    except KeyError:
        raise ValueError(f"unknown version relation {relation!r}") from None
    return check(compare(version, target))


__all__ = ["compare", "parse", "satisfies", "sort_key"]
