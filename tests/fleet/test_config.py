"""fleet.yaml: typed, resolved against its directory, one line per mistake with the field
path (and the close name of a typo), like the image spec."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from zerocve.errors import SpecError, UsageError
from zerocve.fleet.config import load_fleet, parse_duration, parse_fleet
from zerocve.vuln.db import FeedSource

GOOD = """
images:
  - spec: images/python.yaml
    name: py
    repository: localhost:5000/team/python
    tags: [latest, "3.11"]
  - spec: more/*.yaml
    repository: localhost:5000/team/{name}
watch:
  interval: 1h30m
  advisories: [{osv: feeds/osv.zip}, {tracker: "http://127.0.0.1:9/tracker.json"}]
signing: {key: keys/cosign.key}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for spec in ("images/python.yaml", "more/static.yaml", "more/base.yaml"):
        (tmp_path / spec).parent.mkdir(exist_ok=True)
        (tmp_path / spec).write_text("contents: {packages: [tzdata]}\n")
    (tmp_path / "fleet.yaml").write_text(GOOD)
    return tmp_path


def test_a_fleet_file_resolves_paths_globs_and_defaults(tree: Path):
    fleet = load_fleet(tree / "fleet.yaml")
    assert [(i.name, i.spec, i.repository, i.tags) for i in fleet.images] == [
        ("py", tree / "images/python.yaml", "localhost:5000/team/python", ("latest", "3.11")),
        ("base", tree / "more/base.yaml", "localhost:5000/team/base", ("latest",)),
        ("static", tree / "more/static.yaml", "localhost:5000/team/static", ("latest",)),
    ]
    assert fleet.interval == timedelta(hours=1, minutes=30)
    assert fleet.advisories == (
        FeedSource("osv", str(tree / "feeds/osv.zip")),
        FeedSource("debian-tracker", "http://127.0.0.1:9/tracker.json"),
    )
    assert fleet.signing_key == tree / "keys/cosign.key"
    assert fleet.image("static").name == "static"
    with pytest.raises(UsageError, match="no image named 'nope' .*py, base, static"):
        fleet.image("nope")


def test_watch_defaults_to_ten_minutes_and_no_feeds(tree: Path):
    fleet = parse_fleet(
        "images: [{spec: images/python.yaml, repository: localhost:5000/p}]", "f.yaml", tree
    )
    assert fleet.interval == timedelta(minutes=10) and fleet.advisories == ()
    assert fleet.images[0].name == "python" and fleet.signing_key is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("images: [{spec: images/python.yaml, repositry: localhost:5000/p}]",
         "f.yaml: images[0].repositry: unknown field (did you mean 'repository'?)"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p}]\nwach: {}",
         "f.yaml: wach: unknown field (did you mean 'watch'?)"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p}]\n"
         "watch: {interval: 10, advisories: [{osvv: x}]}",
         "f.yaml: watch.advisories[0].osvv: unknown field (did you mean 'osv'?)"),
        ("images: [{spec: nothing/*.yaml, repository: localhost:5000/p}]",
         "f.yaml: images[0].spec: 'nothing/*.yaml' matches no file"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p:1}]",
         "f.yaml: images[0].repository: 'localhost:5000/p:1': give REGISTRY/REPO without a tag"),
        ("images: [{spec: images/python.yaml, repository: python}]",
         "f.yaml: images[0].repository: image reference 'python': name the registry"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p, tags: ['a b']}]",
         "f.yaml: images[0].tags: 'a b' is not a tag"),
        ("images: [{spec: more/*.yaml, repository: localhost:5000/p}]",
         "f.yaml: images[0].repository: 'more/*.yaml' matches 2 specs, which would all push to "
         "one repository; put {name} in it"),
        ("images: [{spec: more/*.yaml, name: x, repository: 'localhost:5000/{name}'}]",
         "f.yaml: images[0].name: a name needs a spec that matches one file"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p},"
         " {spec: images/python.yaml, repository: localhost:5000/q}]",
         "f.yaml: images[1]: image name 'python' is already used by images[0]"),
        ("images: [{spec: images/python.yaml, name: Py, repository: localhost:5000/p}]",
         "f.yaml: images[0].name: 'Py' must be lowercase"),
        ("images: []", "f.yaml: images: List should have at least 1 item"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p}]\n"
         "watch: {interval: 10 minutes}",
         "f.yaml: watch.interval: '10 minutes' is not a duration like 90s, 10m"),
        ("images: [{spec: images/python.yaml, repository: localhost:5000/p}]\n"
         "watch: {advisories: [{osv: a, tracker: b}]}",
         "f.yaml: watch.advisories[0]: give exactly one of osv: or tracker:"),
        ("images: [{spec: images/python.yaml", "f.yaml:1:35: invalid YAML"),
        ("- a list", "f.yaml: expected a mapping at the top level"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_naming_the_field(tree: Path, text: str, message: str):
    with pytest.raises(SpecError) as err:
        parse_fleet(text, "f.yaml", tree)
    assert err.value.diagnostics().startswith(message), err.value.diagnostics()
    assert "\n" not in err.value.diagnostics()


def test_an_unreadable_fleet_file_names_it(tmp_path: Path):
    with pytest.raises(SpecError, match=r"missing.yaml: cannot read fleet file"):
        load_fleet(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("1d", 86400), (45, 45), ("2h 5m", None),
     ("0s", None), (-1, None), ("", None), (True, None), ("m", None)],
)  # fmt: skip
def test_durations(value: object, seconds: int | None):
    if seconds is None:
        with pytest.raises(ValueError):
            parse_duration(value)
    else:
        assert parse_duration(value) == timedelta(seconds=seconds)
