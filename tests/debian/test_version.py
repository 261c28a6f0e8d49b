"""dpkg version order, checked against ``dpkg --compare-versions`` itself on more than 10,000
real version pairs from Packages indices, plus hand-picked tricky ones.

Every pair costs one ``dpkg`` run (about 2 ms): our order claims ``lt``, ``eq`` or ``gt`` and
dpkg confirms the claim, so one call checks the full three-way answer. The pairs go through
one ``sh`` process reading them from a file.
"""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from _host_indices import real_packages

from zerocve.debian.model import BinaryPackage
from zerocve.debian.relations import parse_dependencies
from zerocve.debian.version import compare, parse, satisfies, sort_key

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg as the oracle")

TRICKY = [
    ("1.0", "1.0"),
    ("1.0", "1.0-0"),  # an empty revision equals "0"
    ("1.0-1", "1.0"),
    ("1.0~rc1", "1.0"),  # tilde sorts before everything, even the end
    ("1.0~rc1", "1.0~rc1~1"),
    ("1.0~", "1.0"),
    ("1.0~~", "1.0~"),
    ("1.0~~a", "1.0~~"),
    ("1:0.1", "9.9"),  # epochs beat everything
    ("0:1.0", "1.0"),  # epoch 0 is the default
    ("2:1.0", "10:0.1"),
    ("1.0-1", "1.0-1+b1"),  # binNMU
    ("1.0-1+b1", "1.0-1.1"),
    ("1.0+dfsg-1", "1.0-1"),
    ("1.0a", "1.0+"),  # letters before non-letters
    ("1.0.", "1.0a"),
    ("1.0-1~deb12u1", "1.0-1"),  # security and backports suffixes
    ("1.0-1+deb12u1", "1.0-1+deb12u10"),
    ("1.0-1~bpo12+1", "1.0-1~deb12u1"),
    ("3.0.15-1~deb12u1", "3.0.17-1~deb12u2"),
    ("1.01", "1.1"),  # leading zeros do not count
    ("1.001-1", "1.1-1"),
    ("1.2.3-4-5", "1.2.3-4"),  # the revision starts after the last hyphen
    ("1.0-a", "1.0-1"),
    ("a", "1"),
    ("1.0", "1.0.0"),
    ("20250419~deb12u2", "20240203"),
    ("2026f-0+deb12u1", "2025b-0+deb12u1"),
    ("1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1"),
    ("0.0.0", "0"),
    ("99999999999999999999", "99999999999999999998"),  # beyond 64 bits
    ("1.0-1ubuntu0.1", "1.0-1"),
    ("7.88.1-10+deb12u12", "7.88.1-10+deb12u5"),
]


def _run_dpkg(claims: list[tuple[str, str, str]], workdir: Path) -> list[bool]:
    """For each (a, op, b), whether ``dpkg --compare-versions a op b`` holds."""
    pairs = workdir / "pairs.txt"
    pairs.write_text("".join(f"{a} {op} {b}\n" for a, op, b in claims))
    script = (
        'while read -r a op b; do if dpkg --compare-versions "$a" "$op" "$b"; '
        "then echo 1; else echo 0; fi; done"
    )
    with pairs.open() as stdin:
        out = subprocess.run(
            ["sh", "-c", script], stdin=stdin, check=True, capture_output=True, text=True
        ).stdout.split()
    assert len(out) == len(claims), "dpkg did not answer every pair"
    return [line == "1" for line in out]


def _claim(a: str, b: str) -> tuple[str, str, str]:
    result = compare(a, b)
    return (a, "lt" if result < 0 else "eq" if result == 0 else "gt", b)


def _assert_dpkg_agrees(pairs: list[tuple[str, str]], workdir: Path) -> None:
    claims = [_claim(a, b) for a, b in pairs]
    answers = _run_dpkg(claims, workdir)
    wrong = [f"{a} {op} {b}" for (a, op, b), ok in zip(claims, answers, strict=True) if not ok]
    assert not wrong, f"{len(wrong)} of {len(claims)} disagree with dpkg, e.g. {wrong[:10]}"


@pytest.fixture(scope="module")
def packages(request: pytest.FixtureRequest) -> tuple[BinaryPackage, ...]:
    return real_packages(request)


def _real_pairs(packages: tuple[BinaryPackage, ...], count: int) -> list[tuple[str, str]]:
    """Distinct pairs of real versions, in three kinds: the comparisons a resolver makes (a
    package's version against the versions its dependents ask for), neighbours in sorted
    order (the closest calls), and random pairs."""
    rng = random.Random(20250212)
    by_name: dict[str, set[str]] = {}
    for pkg in packages:
        by_name.setdefault(pkg.name, set()).add(pkg.version)
        by_name.setdefault(pkg.source, set()).add(pkg.source_version)
    asked: set[tuple[str, str]] = set()
    for pkg in packages:
        for dependency in parse_dependencies(f"{pkg.depends}, {pkg.pre_depends}, {pkg.breaks}"):
            for relation in dependency:
                if relation.version is not None:
                    for offered in by_name.get(relation.name, ()):
                        asked.add((offered, relation.version))
    versions = sorted({v for vs in by_name.values() for v in vs} | {b for _, b in asked})
    neighbours = list(itertools.pairwise(sorted(versions, key=sort_key)))
    chosen: set[tuple[str, str]] = set()

    def add(pairs: list[tuple[str, str]]) -> None:
        # Unordered and never a string against itself: each pair is a real question.
        chosen.update((min(a, b), max(a, b)) for a, b in pairs if a != b)

    add(rng.sample(sorted(asked), min(len(asked), int(count * 0.4))))
    add(rng.sample(neighbours, min(len(neighbours), int(count * 0.3))))
    while len(chosen) < count:
        add([(rng.choice(versions), rng.choice(versions))])
    pairs = sorted(chosen)
    rng.shuffle(pairs)
    # Both orientations, alternately: dpkg's answer must be antisymmetric as ours is.
    return [(a, b) if i % 2 else (b, a) for i, (a, b) in enumerate(pairs)]


@pytest.mark.slow
def test_order_matches_dpkg_on_10000_real_pairs(
    packages: tuple[BinaryPackage, ...], tmp_path: Path
) -> None:
    pairs = _real_pairs(packages, 10_000)
    assert len({frozenset(pair) for pair in pairs}) >= 10_000
    _assert_dpkg_agrees(pairs, tmp_path)


def test_order_matches_dpkg_on_tricky_pairs(tmp_path: Path) -> None:
    _assert_dpkg_agrees(TRICKY + [(b, a) for a, b in TRICKY], tmp_path)


@pytest.mark.parametrize(("a", "b"), TRICKY)
def test_antisymmetric_and_consistent_with_satisfies(a: str, b: str) -> None:
    assert compare(a, b) == -compare(b, a)
    result = compare(a, b)
    assert satisfies(a, "<<", b) == (result < 0)
    assert satisfies(a, "<=", b) == (result <= 0)
    assert satisfies(a, "=", b) == (result == 0)
    assert satisfies(a, ">=", b) == (result >= 0)
    assert satisfies(a, ">>", b) == (result > 0)


def test_sort_key_orders_like_compare() -> None:
    versions = [v for pair in TRICKY for v in pair]
    ordered = sorted(versions, key=sort_key)
    assert all(compare(x, y) <= 0 for x, y in itertools.pairwise(ordered))


def test_parse_splits_epoch_upstream_revision() -> None:
    assert parse("1:2.0-1-2") == (1, "2.0-1", "2")
    assert parse("2.0") == (0, "2.0", "")
    with pytest.raises(ValueError, match="epoch"):
        parse("x:1.0")
    with pytest.raises(ValueError, match="empty upstream"):
        parse("1:-1")


def test_the_oracle_rejects_a_false_claim(tmp_path: Path) -> None:
    """The harness would notice a wrong order: dpkg answers each claim on its own."""
    claims = [("1.0", "gt", "2.0"), ("1.0~rc1", "lt", "1.0"), ("1.0", "eq", "1.0-0")]
    assert _run_dpkg(claims, tmp_path) == [False, True, True]
