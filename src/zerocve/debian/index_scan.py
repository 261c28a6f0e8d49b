"""Where each stanza of a Packages index's text starts and under which name, and which stanzas
have a Provides line naming what: the bookkeeping ``zerocve.debian.catalog.TextCatalog`` reads
an index by. It is exact only for the canonical shape dpkg-scanpackages and Debian's archive
write (every stanza opens with a ``Package: name`` line, one blank line between stanzas, no
other Package line); for any other text the scan says so, and the catalog parses whole.

``Scanner`` takes the text while it grows (as it inflates, while it downloads): each ``advance``
scans the stanzas completed so far, up to the last blank line, and ``finish`` the rest. What
it finds is what one pass over the whole text finds, however the text was cut: every match is
taken only where the text already holds all the regular expression could look at (a Package
line, a Provides field and its continuation lines, a run of blank lines may straddle a cut).
It holds positions only, never a copy of the text.

Pure: no I/O.
"""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass

NAME = rb"[a-z0-9][a-z0-9+.\-]*"  # a Debian package name (Policy 5.6.1)
HEAD = re.compile(rb"Package: (" + NAME + rb")\n")  # a stanza's first line
# A blank line, and the head of the stanza after it (if it has one, as the scan wants).
_BLANK = re.compile(rb"\n\n(?:" + HEAD.pattern + rb")?")
# A Provides field with its continuation (and comment) lines.
_PROVIDES = re.compile(rb"\nProvides:([^\n]*(?:\n[ \t#][^\n]*)*)")
# Every name-like word of a Provides value: a superset of the names it provides (versions and
# architecture qualifiers come along), which the parse of the stanza then narrows.
_WORD = re.compile(NAME)
_PACKAGE_LINE = b"\nPackage:"


@dataclass(frozen=True)
class Scan:
    """The scan of a text of ``length`` bytes; ``canonical`` False (and the rest empty) when
    the text is not in the shape where it is exact."""

    length: int
    canonical: bool
    starts: array[int]  # where each stanza starts
    first: dict[bytes, int]  # name -> its first stanza's number
    more: dict[bytes, list[int]]  # name -> its other stanzas' numbers
    provides: dict[bytes, list[int]]  # word -> numbers of the stanzas whose Provides name it


class Scanner:
    """Scans one text as it grows: ``advance`` after each append, ``finish`` once it is whole.
    The text is only ever appended to between calls."""

    def __init__(self) -> None:
        self._starts = array("q")
        self._first: dict[bytes, int] = {}
        self._more: dict[bytes, list[int]] = {}
        self._provides: dict[bytes, list[int]] = {}
        self._canonical = True
        self._blank = 0  # where the search for the next blank line goes on
        self._field = 0  # where the search for the next Provides goes on
        self._counted = 0  # Package lines are counted up to here
        self._package_lines = 0  # ... and so many were found (heads but the first included)

    def advance(self, text: bytes | bytearray) -> None:
        """Scan what ``text`` holds up to its last blank line. Everything the scan looks at
        of a match before that line lies before it or is its first two bytes, which no later
        byte can change."""
        if not self._canonical:
            return
        edge = text.rfind(b"\n\n", self._blank)
        if edge >= 0:
            self._upto(text, edge, edge + 1, final=False)

    def finish(self, text: bytes | bytearray) -> Scan:
        """The scan of the whole ``text``, of which the earlier ``advance`` calls saw a part."""
        if self._canonical and text:
            self._upto(text, len(text), len(text), final=True)
        if self._canonical and text and self._package_lines != len(self._starts) - 1:
            self._canonical = False  # a Package line that opens no stanza
        if not self._canonical:
            return Scan(len(text), False, array("q"), {}, {}, {})
        return Scan(len(text), True, self._starts, self._first, self._more, self._provides)

    def _upto(self, text: bytes | bytearray, fields_end: int, blanks_end: int,
              final: bool) -> None:
        """Scan the blank lines that start before ``blanks_end`` - 1 and the Provides fields
        that start before ``fields_end`` (the edge: a blank line, or the end of the text)."""
        starts, first = self._starts, self._first
        if not starts:
            head = HEAD.match(text)
            if head is None:
                self._canonical = False
                return
            starts.append(0)
            first[head[1]] = 0
        number, blank = len(starts), None
        for blank in _BLANK.finditer(text, self._blank, blanks_end):
            name = blank[1]
            if name is None:
                # Only the text's end may follow a blank line with no head: one before the edge
                # is followed by more (at least the edge's second newline).
                if final and blank.end() == len(text):
                    continue
                self._canonical = False
                return
            starts.append(blank.start() + 2)
            if first.setdefault(name, number) != number:
                self._more.setdefault(name, []).append(number)
            number += 1
        # The search goes on where the last blank line and head end, as one whole pass's does.
        self._blank = max(blank.end() if blank is not None else 0, self._blank, fields_end)
        # "\nPackage:" holds one newline, first: no line of it straddles the edge's newline.
        self._package_lines += text.count(_PACKAGE_LINE, self._counted, blanks_end)
        self._counted = blanks_end
        # A field before the edge ends at it at the latest: the edge's second newline is no
        # continuation line, and so the field is the same whether the search sees it or not.
        provides = self._provides
        for field in _PROVIDES.finditer(text, self._field, fields_end):
            number = bisect.bisect_right(starts, field.start()) - 1
            for word in _WORD.findall(field[1]):
                provides.setdefault(word, []).append(number)
        self._field = fields_end


def scan(text: bytes | bytearray) -> Scan:
    """The scan of the whole ``text`` at once."""
    return Scanner().finish(text)


__all__ = ["HEAD", "NAME", "Scan", "Scanner", "scan"]
