"""What the resolver reads of a Packages index, by name: the stanzas of one name, the names
that may provide another, every name; and the whole listing for whoever needs every package
(the gate's newest sources, the fleet's watch).

``TextCatalog`` serves a verified index's text lazily. One C-speed scan finds where each
stanza starts and under which name, and which stanzas have a Provides line naming what; a
stanza is parsed (``zerocve.debian.index.parse_packages``, with all its checks) only when a
resolution asks for its name: a few hundred of a full Debian index's 63,000. The scan is
exact only for the canonical shape dpkg-scanpackages and Debian's archive write (every stanza
opens with a ``Package: name`` line, one blank line between stanzas); any other text is
parsed whole, so an odd index gives what a whole parse gives. ``ParsedCatalog`` holds parsed
records (a test's list, such an odd index).

Pure: no I/O.
"""

from __future__ import annotations

import bisect
import codecs
import re
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence

from zerocve._gc import cycle_collector_paused
from zerocve.debian.index import parse_packages, stanza_pieces
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.errors import RepositoryError

_NAME = rb"[a-z0-9][a-z0-9+.\-]*"  # a Debian package name (Policy 5.6.1)
_FIRST = re.compile(rb"Package: (" + _NAME + rb")\n")
# A blank line, and the head of the stanza after it (if it has one, as the scan wants).
_BLANK = re.compile(rb"\n\n(?:Package: (" + _NAME + rb")\n)?")
# A Provides field with its continuation (and comment) lines.
_PROVIDES = re.compile(rb"\nProvides:([^\n]*(?:\n[ \t#][^\n]*)*)")
# Every name-like word of a Provides value: a superset of the names it provides (versions and
# architecture qualifiers come along), which the parse of the stanza then narrows.
_WORD = re.compile(_NAME)
_WORD_TEXT = re.compile(_NAME.decode())
_DECODE_PIECE = 1 << 20  # bytes decoded at a time for a whole parse


class Catalog(ABC):
    """Packages by name, for the resolver (``zerocve.debian.resolve``)."""

    origins: frozenset[str]  # of the packages held: where the resolver says it looked

    @abstractmethod
    def named(self, name: str) -> Sequence[BinaryPackage]:
        """Every package called ``name``, of any architecture, in index order."""

    @abstractmethod
    def provider_names(self, name: str) -> Iterable[str]:
        """The names of packages whose Provides may name ``name`` (a superset)."""

    @abstractmethod
    def names(self) -> Iterable[str]:
        """Every package name, of any architecture."""

    @abstractmethod
    def provided_words(self) -> Iterable[str]:
        """Every word ``provider_names`` answers for (a superset of the names provided)."""

    @abstractmethod
    def all(self) -> tuple[BinaryPackage, ...]:
        """Every package, in index order."""


class ParsedCatalog(Catalog):
    """Over parsed records."""

    def __init__(self, packages: Iterable[BinaryPackage]) -> None:
        self._all = tuple(packages)
        self._by_name: dict[str, list[BinaryPackage]] = {}
        self._providers: dict[str, dict[str, None]] = {}
        for package in self._all:
            self._by_name.setdefault(package.name, []).append(package)
            for word in _WORD_TEXT.findall(package.provides):
                self._providers.setdefault(word, {})[package.name] = None
        self.origins = frozenset(str(origin) for origin in {p.origin for p in self._all})

    def named(self, name: str) -> Sequence[BinaryPackage]:
        return self._by_name.get(name, ())

    def provider_names(self, name: str) -> Iterable[str]:
        return self._providers.get(name, ())

    def names(self) -> Iterable[str]:
        return self._by_name.keys()

    def provided_words(self) -> Iterable[str]:
        return self._providers.keys()

    def all(self) -> tuple[BinaryPackage, ...]:
        return self._all


class TextCatalog(Catalog):
    """Over the decompressed, verified text of the index ``what`` (its URL, for errors).
    ``load`` and ``store`` keep the whole listing (``zerocve.debian.index_cache``) so that
    it is parsed once per index, not once per process."""

    def __init__(
        self, text: bytes | bytearray, origin: Origin, what: str,
        load: Callable[[], tuple[BinaryPackage, ...] | None] = lambda: None,
        store: Callable[[tuple[BinaryPackage, ...]], None] = lambda packages: None,
    ) -> None:
        self._text, self._origin, self._what = text, origin, what
        self._load, self._store = load, store
        self._shared: dict[str, str] = {}  # values stanzas repeat, kept once (parse_packages)
        self._whole: ParsedCatalog | None = None
        self._starts = array("q")  # where each stanza starts
        self._first: dict[bytes, int] = {}  # name -> its first stanza's number
        self._more: dict[bytes, list[int]] = {}  # name -> its other stanzas' numbers
        self._provides: dict[bytes, list[int]] = {}  # word -> numbers of stanzas naming it
        if not self._scan():
            self._whole = ParsedCatalog(self._parse_whole())
        self.origins = (self._whole.origins if self._whole is not None
                        else frozenset({str(origin)} if self._starts else ()))

    def _scan(self) -> bool:
        """Where each stanza starts and its name, and the words of each Provides; False when
        the text is not in the canonical shape, where this is exact: it opens with a head
        (``Package: name``), every blank line but a last one is one, followed by a head,
        and there is no other Package line."""
        text = self._text
        if not text:
            return True
        first = _FIRST.match(text)
        if first is None:
            return False
        starts, names = array("q", [0]), [first[1]]
        start, name = starts.append, names.append
        for blank in _BLANK.finditer(text):
            head = blank[1]
            if head is None:
                if blank.end() != len(text):
                    return False
                continue
            start(blank.start() + 2)
            name(head)
        if text.count(b"\nPackage:") != len(names) - 1:
            return False
        self._starts = starts
        # Each name's first stanza (dict keeps the last of equal keys: given in reverse).
        self._first = dict(zip(reversed(names), range(len(names) - 1, -1, -1), strict=True))
        if len(self._first) != len(names):
            for number, each in enumerate(names):
                if self._first[each] != number:
                    self._more.setdefault(each, []).append(number)
        for field in _PROVIDES.finditer(text):
            number = bisect.bisect_right(starts, field.start()) - 1
            for word in _WORD.findall(field[1]):
                self._provides.setdefault(word, []).append(number)
        return True

    def _stanza(self, number: int) -> BinaryPackage:
        """The record of stanza ``number``, parsed now."""
        start = self._starts[number]
        end = (self._starts[number + 1] - 2 if number + 1 < len(self._starts)
               else len(self._text))
        block = self._text[start:end].decode("utf-8", "replace")
        try:
            (package,) = parse_packages(block, self._origin, self._what, shared=self._shared)
        except RepositoryError:
            # Said again with the stanza's line in the file, counted only now.
            parse_packages(block, self._origin, self._what,
                           first_line=self._text.count(b"\n", 0, start) + 1)
            raise
        return package

    def named(self, name: str) -> Sequence[BinaryPackage]:
        if self._whole is not None:
            return self._whole.named(name)
        key = name.encode()
        if key not in self._first:
            return ()
        numbers = sorted([self._first[key], *self._more.get(key, ())])
        return [p for p in map(self._stanza, numbers) if p.name == name]

    def provider_names(self, name: str) -> Iterable[str]:
        if self._whole is not None:
            return self._whole.provider_names(name)
        numbers = self._provides.get(name.encode(), ())
        return dict.fromkeys(self._stanza_name(number) for number in numbers)

    def _stanza_name(self, number: int) -> str:
        head = _FIRST.match(self._text, self._starts[number])
        assert head is not None  # the scan found it there
        return head[1].decode()

    def names(self) -> Iterable[str]:
        if self._whole is not None:
            return self._whole.names()
        return (name.decode() for name in self._first)

    def provided_words(self) -> Iterable[str]:
        if self._whole is not None:
            return self._whole.provided_words()
        return (word.decode() for word in self._provides)

    def all(self) -> tuple[BinaryPackage, ...]:
        if self._whole is None:
            self._whole = ParsedCatalog(self._listing())
        return self._whole.all()

    def _listing(self) -> tuple[BinaryPackage, ...]:
        packages = self._load()
        if packages is None:
            packages = self._parse_whole()
            self._store(packages)
        return packages

    def _parse_whole(self) -> tuple[BinaryPackage, ...]:
        with cycle_collector_paused():
            return parse_packages(stanza_pieces(_decoded(self._text)), self._origin,
                                  self._what)


def _decoded(text: bytes | bytearray) -> Iterator[str]:
    """``text`` as UTF-8 (bad bytes replaced), a piece at a time: the whole of a full index
    is never held as text beside its bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    view = memoryview(text)
    for start in range(0, len(view), _DECODE_PIECE):
        yield decoder.decode(view[start:start + _DECODE_PIECE])
    yield decoder.decode(b"", final=True)


__all__ = ["Catalog", "ParsedCatalog", "TextCatalog"]
