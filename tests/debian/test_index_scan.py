"""The scan of a Packages index made while its text grows (``index_scan.Scanner``) is the scan
of the whole text, however the text was cut: on real indices (the signed test repository's,
the host's bookworm index), on generated canonical indices and on texts of any shape; and a
catalog over it answers as a whole parse does."""

from __future__ import annotations

import gzip
import random
from collections.abc import Sequence

import pytest
from _host_indices import list_files, native_arch, read_list
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.aptrepo import AptRepo
from zerocve.debian import repo as repo_module
from zerocve.debian.catalog import ParsedCatalog, TextCatalog
from zerocve.debian.index import parse_packages
from zerocve.debian.index_scan import Scan, Scanner, scan
from zerocve.debian.model import Origin
from zerocve.debian.repo import _Inflater

ORIGIN = Origin("file:///srv/repo", "bookworm", "main", "amd64")
SHA = "a" * 64


def fed(text: bytes, cuts: Sequence[int]) -> Scan:
    """The scan of ``text`` made as it grows into one buffer, cut at ``cuts``."""
    scanner, buffer, done = Scanner(), bytearray(), 0
    for cut in sorted(set(cuts)):
        buffer += text[done:cut]
        done = cut
        scanner.advance(buffer)
    buffer += text[done:]
    return scanner.finish(buffer)


def cuts_of(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=40)


@pytest.fixture(scope="module")
def repo_index(apt_repo: AptRepo) -> bytes:
    """The signed test repository's bookworm index, as apt-ftparchive wrote it."""
    return (apt_repo.root / "dists/bookworm/main/binary-amd64/Packages").read_bytes()


def answers(catalog: TextCatalog, names: set[str]) -> dict[str, object]:
    return {name: (list(catalog.named(name)), list(catalog.provider_names(name)))
            for name in names}


def assert_answers_as_one_piece(catalog: TextCatalog, text: bytes, names: set[str]) -> None:
    """``catalog`` answers as the catalog over the text scanned in one piece, and names what
    a whole parse names (whose providers are among those it may name)."""
    assert catalog._whole is None
    assert answers(catalog, names) == answers(TextCatalog(text, ORIGIN, "Packages"), names)
    parsed = ParsedCatalog(parse_packages(text.decode(), ORIGIN, "Packages"))
    for name in names:
        assert list(catalog.named(name)) == list(parsed.named(name))
        assert set(parsed.provider_names(name)) <= set(catalog.provider_names(name))


def test_the_repository_index_fed_in_any_pieces_is_scanned_as_one(repo_index: bytes) -> None:
    whole = scan(repo_index)
    assert whole.canonical and len(whole.starts) > 100 and whole.provides
    parsed = ParsedCatalog(parse_packages(repo_index.decode(), ORIGIN, "Packages"))
    names = {*parsed.names(), *parsed.provided_words()}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cuts_of(len(repo_index)))
    def check(cuts: list[int]) -> None:
        scanned = fed(repo_index, cuts)
        assert scanned == whole
        catalog = TextCatalog(bytearray(repo_index), ORIGIN, "Packages", scanned=scanned)
        assert_answers_as_one_piece(catalog, repo_index, names)

    check()


def test_every_cut_at_or_around_a_blank_line_of_the_repository_index(repo_index: bytes) -> None:
    """Each blank line, the byte before it and the two after: where a head, a Provides field
    or the blank line itself would straddle the cut."""
    whole = scan(repo_index)
    blanks = [i for i in range(len(repo_index) - 1) if repo_index[i:i + 2] == b"\n\n"]
    for offset in (-1, 0, 1, 2, 3, 11):
        cuts = [i + offset for i in blanks if 0 <= i + offset <= len(repo_index)]
        assert fed(repo_index, cuts) == whole, offset


def test_the_host_bookworm_index_fed_in_download_sized_pieces_is_scanned_as_one() -> None:
    lists = [path for path, _ in list_files(native_arch())
             if f"_binary-{native_arch()}_" in path.name]
    if not lists:
        pytest.skip("the host has no apt lists (run apt-get update)")
    text = read_list(max(lists, key=lambda path: path.stat().st_size)).encode()
    whole = scan(text)
    assert whole.canonical and len(whole.starts) > 10_000
    rng = random.Random(11)
    for piece in (1 << 18, 65_537):
        cuts = range(0, len(text), piece)
        assert fed(text, [cut + rng.randrange(piece) for cut in cuts]) == whole, piece


def stanza(name: str, provides: str | None) -> str:
    lines = [f"Package: {name}", "Version: 1.0", "Architecture: amd64"]
    if provides is not None:
        lines.append(f"Provides: {provides}")
    lines += [f"Filename: pool/{name}_1.0.deb", "Size: 10", f"SHA256: {SHA}"]
    return "\n".join(lines) + "\n"


NAMES = st.sampled_from(["a", "b", "lib-c1", "d+e", "f.g"])
PROVIDES = st.one_of(
    st.none(),
    st.lists(st.tuples(NAMES, st.sampled_from(["", " (= 1)", ":any"]),
                       st.sampled_from([", ", ",\n ", ",\n# a comment\n ", ",\n\t"])),
             min_size=1, max_size=4).map(
        lambda words: "".join(w + v + s for w, v, s in words[:-1]) + words[-1][0] + words[-1][1]),
)
CANONICAL = st.lists(st.tuples(NAMES, PROVIDES), min_size=1, max_size=8).map(
    lambda stanzas: "\n".join(stanza(name, provides) for name, provides in stanzas).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_generated_canonical_index_in_any_pieces_answers_as_a_whole_parse(
    data: st.DataObject,
) -> None:
    text = data.draw(CANONICAL)
    if data.draw(st.booleans()):
        text += b"\n"  # a blank line at the very end is still the canonical shape
    scanned = fed(text, data.draw(cuts_of(len(text))))
    assert scanned == scan(text) and scanned.canonical
    catalog = TextCatalog(text, ORIGIN, "Packages", scanned=scanned)
    assert_answers_as_one_piece(catalog, text, {"a", "b", "lib-c1", "d+e", "f.g", "any", "1"})


# Lines of every kind the scan looks at, canonical or not: heads (good, spaced, uppercase,
# empty), Package lines, Provides fields, continuation and comment lines, blank lines.
LINES = st.sampled_from([
    b"Package: a\n", b"Package: b-2\n", b"Package:  c\n", b"Package: D\n", b"Package:\n",
    b"Provides: x, y (= 1)\n", b"Provides: z\n", b" w,\n", b"\tv\n", b"# c\n",
    b"Version: 1\n", b"\n", b"\n\n", b"Package: e", b"Provides: u",
])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_text_of_any_shape_in_any_pieces_is_scanned_as_one(data: st.DataObject) -> None:
    text = b"".join(data.draw(st.lists(LINES, max_size=20)))
    assert fed(text, data.draw(cuts_of(len(text)))) == scan(text)


@pytest.mark.parametrize("shape", [
    b"Package: a\nVersion: 1\n\n\nPackage: b\n",  # a run of blank lines
    b"Package: a\nVersion: 1\n\nVersion: 2\nPackage: b\n",  # a head not first
    b"Package: a\nPackage: b\n\nPackage: c\n",  # a second Package line
    b"\nPackage: a\n",  # a leading blank line
    b"Package: a\n\nPackage: b\n\nPackage: c\n",  # one-line stanzas: a head eats the newline
])
def test_an_odd_text_is_odd_however_it_is_cut(shape: bytes) -> None:
    for cut in range(len(shape) + 1):
        scanned = fed(shape, [cut])
        assert scanned == scan(shape) and not scanned.canonical, cut


def test_a_scan_of_another_text_is_not_used() -> None:
    text = (stanza("a", "v") + "\n" + stanza("b", None)).encode()
    other = scan((stanza("b", None) + "\n" + stanza("a", "v") + "\n" + stanza("c", None))
                 .encode())
    catalog = TextCatalog(text, ORIGIN, "Packages", scanned=other)
    assert [p.name for p in catalog.named("a")] == ["a"]
    assert list(catalog.named("c")) == [] and list(catalog.provider_names("v")) == ["a"]


def test_the_stanzas_inflated_so_far_are_scanned_before_the_rest_arrives(
    repo_index: bytes, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(repo_module, "_SCAN_STEP", 1)  # a scan for every piece
    packed = gzip.compress(repo_index, mtime=0)
    inflater = _Inflater(".gz")
    inflater.feed(packed[: len(packed) // 2])
    assert 0 < len(inflater._scanner._starts) < len(scan(repo_index).starts)
    inflater.feed(packed[len(packed) // 2:])
    inflated = inflater.text()
    assert inflated.text == repo_index and inflated.scan == scan(repo_index)
