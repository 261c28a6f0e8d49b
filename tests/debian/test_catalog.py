"""The lazy catalog over an index's text answers as a whole parse does: on the host's real
indices (63,000 stanzas), and on indices in odd shapes, which it parses whole."""

from __future__ import annotations

import random

import pytest
from _host_indices import list_files, native_arch, read_list

from zerocve.debian import resolve as resolve_module
from zerocve.debian.catalog import ParsedCatalog, TextCatalog
from zerocve.debian.index import parse_packages
from zerocve.debian.model import Origin
from zerocve.debian.resolve import resolve_in
from zerocve.errors import RepositoryError, ResolutionError

ORIGIN = Origin("file:///srv/repo", "bookworm", "main", "amd64")
SHA = "a" * 64


def stanza(name: str, version: str = "1.0", **fields: str) -> str:
    lines = [f"Package: {name}", f"Version: {version}", "Architecture: amd64",
             *(f"{key.replace('_', '-').title()}: {value}" for key, value in fields.items()),
             f"Filename: pool/{name}_{version}.deb", "Size: 10", f"SHA256: {SHA}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def host_index() -> tuple[str, Origin]:
    """The host's largest Packages list (bookworm main), as text."""
    lists = [(path, origin) for path, origin in list_files(native_arch())
             if f"_binary-{native_arch()}_" in path.name]
    if not lists:
        pytest.skip("the host has no apt lists (run apt-get update)")
    path, origin = max(lists, key=lambda item: item[0].stat().st_size)
    return read_list(path), origin


def test_a_real_index_is_read_lazily_and_answers_as_a_whole_parse(
    host_index: tuple[str, Origin],
) -> None:
    text, origin = host_index
    lazy = TextCatalog(text.encode(), origin, "Packages")
    whole = ParsedCatalog(parse_packages(text, origin, "Packages"))
    assert lazy._whole is None  # Debian's own shape: scanned, not parsed
    names = sorted(whole.names())
    assert sorted(lazy.names()) == names
    for name in random.Random(10).sample(names, 3000):
        assert list(lazy.named(name)) == list(whole.named(name)), name
    lazy_words = set(lazy.provided_words())
    for word in whole.provided_words():
        assert word in lazy_words
        assert set(whole.provider_names(word)) <= set(lazy.provider_names(word)), word
    assert lazy.origins == whole.origins
    assert lazy._whole is None
    assert lazy.all() == whole.all()


def test_resolutions_over_a_real_index_are_the_whole_parse_s(
    host_index: tuple[str, Origin], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resolve_module, "_UNIVERSES", resolve_module._Universes(size=4))
    text, origin = host_index
    lazy = TextCatalog(text.encode(), origin, "Packages")
    whole = ParsedCatalog(parse_packages(text, origin, "Packages"))
    arch = origin.architecture
    for request in (["python3", "ca-certificates", "tzdata"], ["curl"], ["perl"],
                    ["default-jre-headless"], ["mail-transport-agent"], ["awk"], ["libc6"]):
        assert resolve_in(request, [lazy], arch) == resolve_in(request, [whole], arch)
    for bad in (["pyhton3"], ["python3=0.1"]):
        with pytest.raises(ResolutionError) as lazily:
            resolve_in(bad, [lazy], arch)
        with pytest.raises(ResolutionError) as wholly:
            resolve_in(bad, [whole], arch)
        assert lazily.value.diagnostics() == wholly.value.diagnostics()
    assert lazy._whole is None  # nothing needed the whole listing


ODD = {
    "comment between stanzas": "\n\n# a comment\n\n",
    "two blank lines": "\n\n\n",
    "Package not first": None,
    "Package twice": None,
    "leading blank line": None,
    "spaced name": None,
}


def _odd(shape: str) -> str:
    one = stanza("one", provides="virt")
    two = stanza("two", depends="one", provides="virt (= 2)")
    three = stanza("three", version="2:3-1")
    separator = ODD[shape] or "\n"
    text = one + separator + two + "\n" + three
    if shape == "Package not first":
        text = text.replace("Package: two\nVersion: 1.0\n", "Version: 1.0\nPackage: two\n")
    elif shape == "Package twice":
        text = text.replace("Package: three\n", "Package: three\nPackage: four\n")
    elif shape == "leading blank line":
        text = "\n" + text
    elif shape == "spaced name":
        text = text.replace("Package: one\n", "Package:   one  \n")
    return text


@pytest.mark.parametrize("shape", ODD)
def test_an_index_in_another_shape_is_parsed_whole(shape: str) -> None:
    text = _odd(shape)
    lazy = TextCatalog(text.encode(), ORIGIN, "Packages")
    whole = ParsedCatalog(parse_packages(text, ORIGIN, "Packages"))
    assert lazy._whole is not None
    for name in ("one", "two", "three", "four", "virt"):
        assert list(lazy.named(name)) == list(whole.named(name))
        assert list(lazy.provider_names(name)) == list(whole.provider_names(name))
    assert resolve_in(["two"], [lazy], "amd64") == resolve_in(["two"], [whole], "amd64")


def test_a_provides_on_several_lines_or_past_a_comment_is_found() -> None:
    text = (stanza("one", provides="a,\n b (= 1),\n# a comment in the field\n c")
            + "\n" + stanza("two", depends="c"))
    lazy = TextCatalog(text.encode(), ORIGIN, "Packages")
    assert lazy._whole is None
    assert [p.name for p in resolve_in(["two"], [lazy], "amd64")] == ["one", "two"]
    assert list(lazy.provider_names("b")) == ["one"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("Size", "big", r"^Packages:8: broken: Size is not a number$"),
    ("Filename", "../../etc/passwd", r"^Packages:8: broken: unsafe Filename"),
    ("SHA256", None, r"^Packages:8: broken: stanza has no SHA256 field$"),
])
def test_a_broken_stanza_is_refused_when_reached_naming_its_line(
    field: str, value: str | None, message: str,
) -> None:
    broken = stanza("broken")
    lines = [line for line in broken.splitlines() if not line.startswith(f"{field}:")]
    if value is not None:
        lines.append(f"{field}: {value}")
    text = stanza("one") + "\n" + "\n".join(lines) + "\n\n" + stanza("two", depends="broken")
    lazy = TextCatalog(text.encode(), ORIGIN, "Packages")
    assert [p.name for p in resolve_in(["one"], [lazy], "amd64")] == ["one"]
    with pytest.raises(RepositoryError, match=message):
        resolve_in(["two"], [lazy], "amd64")
    with pytest.raises(RepositoryError, match=message):  # as the whole parse says it
        parse_packages(text, ORIGIN, "Packages")


def test_a_name_offered_twice_in_one_index_gives_both() -> None:
    text = stanza("one", version="1.0") + "\n" + stanza("two") + "\n" + stanza("one", "2.0")
    lazy = TextCatalog(text.encode(), ORIGIN, "Packages")
    assert lazy._whole is None
    assert [p.version for p in lazy.named("one")] == ["1.0", "2.0"]
    assert [p.version for p in resolve_in(["one"], [lazy], "amd64")] == ["2.0"]


def test_the_whole_listing_is_kept_and_loaded() -> None:
    text = stanza("one") + "\n" + stanza("two")
    kept: list[object] = []
    lazy = TextCatalog(text.encode(), ORIGIN, "Packages", store=kept.append)
    assert [p.name for p in lazy.all()] == ["one", "two"]
    assert kept == [lazy.all()]
    again = TextCatalog(text.encode(), ORIGIN, "Packages", load=lambda: lazy.all()[:1])
    assert [p.name for p in again.all()] == ["one"]  # what the cache gave (it checks its seal)


def test_an_empty_index() -> None:
    lazy = TextCatalog(b"", ORIGIN, "Packages")
    assert lazy.all() == () and not lazy.origins and list(lazy.names()) == []
