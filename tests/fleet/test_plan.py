"""The planner: exact (an image is rebuilt iff its package set would change), coalesced (one
plan per image), explained (moves and the CVEs they fix), and never re-resolving an image
nothing reached. Pure: runs in milliseconds, exhaustively with hypothesis."""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.locks import make_lock
from zerocve.debian.catalog import ParsedCatalog
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.repo import PackageIndex
from zerocve.debian.version import compare
from zerocve.errors import ResolutionError
from zerocve.fleet.plan import (
    Candidate,
    Fix,
    PlanImage,
    Verdict,
    fixed_by,
    indexed,
    moved_names,
    moves,
    new_providers,
    newest_offered,
    package_set_digest,
    plan,
    reasons,
    target_key,
)
from zerocve.lock import Lock, lock_spec
from zerocve.spec import parse_spec

SPEC = "sha256:" + "0" * 64


def image(name: str, current: Lock | None, **kw) -> PlanImage:
    return PlanImage(name, current, kw.pop("spec_digest", SPEC), **kw)


def planned(images, resolver, offered, fixes=None, advisory_sources=(), provided=None,
            requests=None):
    """The planner as a check runs it: candidates found through the package → image index
    rows of the images' published locks (``requests``: image → the names its spec asks for)."""
    rows = [r for i in images if i.current is not None for r in indexed(i.name, i.current)]
    candidates = [Candidate(i.name, i.current.spec if i.current else None, i.spec_digest,
                            frozenset((requests or {}).get(i.name, ())), i.build_digest,
                            i.spec_change) for i in images]  # fmt: skip
    why = reasons(candidates, rows, offered, frozenset(advisory_sources), provided)
    return plan(images, resolver, why, fixes)


class Resolver:
    """Resolves each image to a fixed answer, and records whom it was asked about."""

    def __init__(self, answers: dict[str, Lock]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, img: PlanImage) -> Lock:
        self.asked.append(img.name)
        return self.answers[img.name]


OPENSSL_OLD = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.11-1", "openssl"))
OPENSSL_NEW = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.13-1", "openssl"))
TZ = make_lock(("tzdata", "2024a-0+deb12u1"))
FIXES = {
    "openssl": [Fix("CVE-2024-0727", "3.0.13-1"), Fix("CVE-2023-5678", "3.0.11-1"),
                Fix("CVE-2099-0001", "3.0.14-1")],
}  # fmt: skip


def test_only_images_holding_a_moved_package_are_re_resolved_and_rebuilt():
    resolver = Resolver({"python": OPENSSL_NEW, "static": TZ})
    offered = {("libssl3", "amd64"): "3.0.13-1", ("libc6", "amd64"): "2.36-9",
               ("tzdata", "amd64"): "2024a-0+deb12u1"}  # fmt: skip
    plans = planned([image("python", OPENSSL_OLD), image("static", TZ)], resolver, offered, FIXES)
    assert [(p.name, p.verdict) for p in plans] == [
        ("python", Verdict.REBUILD), ("static", Verdict.NOT_HIT)
    ]  # fmt: skip
    assert resolver.asked == ["python"]
    (move,) = plans[0].moves
    assert (move.name, move.old, move.new, move.fixes) == (
        "libssl3", "3.0.11-1", "3.0.13-1", ("CVE-2024-0727",)
    )  # fmt: skip
    assert plans[0].why == "libssl3 3.0.11-1 → 3.0.13-1 fixes CVE-2024-0727"
    assert plans[0].target_digest == target_key(OPENSSL_NEW, "")
    assert plans[0].to_json()["fixes"] == ["CVE-2024-0727"]


def test_changes_arriving_together_are_one_rebuild_per_image():
    old = make_lock(("libc6", "2.36-9", "glibc"), ("libc-bin", "2.36-9", "glibc"),
                    ("libssl3", "3.0.11-1", "openssl"), ("zlib1g", "1:1.2.13.dfsg-1", "zlib"))
    new = make_lock(("libc6", "2.36-9+deb12u4", "glibc"), ("libc-bin", "2.36-9+deb12u4", "glibc"),
                    ("libssl3", "3.0.13-1", "openssl"), ("zlib1g", "1:1.2.13.dfsg-1", "zlib"))
    offered = {("libc6", "amd64"): "2.36-9+deb12u4", ("libssl3", "amd64"): "3.0.13-1"}
    (only,) = planned([image("python", old)], Resolver({"python": new}), offered, FIXES)
    assert only.rebuild
    assert [m.name for m in only.moves] == ["libc-bin", "libc6", "libssl3"]


def test_a_pinned_package_that_re_resolves_to_the_same_set_is_not_rebuilt():
    offered = {("libssl3", "amd64"): "3.0.13-1"}
    resolver = Resolver({"python": OPENSSL_OLD})
    (only,) = planned([image("python", OPENSSL_OLD)], resolver, offered)
    assert only.verdict is Verdict.UP_TO_DATE and not only.rebuild and resolver.asked


def test_a_re_signed_release_with_the_same_packages_is_no_reason_to_rebuild():
    later = OPENSSL_OLD.model_copy(update={"source_date_epoch": 1790000000})
    assert package_set_digest(later) == package_set_digest(OPENSSL_OLD)
    (only,) = planned([image("python", OPENSSL_OLD)], Resolver({"python": later}),
                   {("libssl3", "amd64"): "3.0.99"})  # fmt: skip
    assert only.verdict is Verdict.UP_TO_DATE


def test_never_built_and_spec_changes_are_rebuilds():
    edited = "sha256:" + "9" * 64
    resolver = Resolver({"new": TZ, "edited": OPENSSL_OLD.model_copy(update={"spec": edited})})
    plans = planned([image("new", None), image("edited", OPENSSL_OLD, spec_digest=edited)],
                 resolver, {})  # fmt: skip
    assert [(p.verdict, p.why) for p in plans] == [
        (Verdict.REBUILD, "never built (1 packages)"),
        (Verdict.REBUILD, "the spec's contents or archs changed"),
    ]


def test_a_held_image_is_planned_but_not_rebuilt():
    (only,) = planned([image("python", OPENSSL_OLD, held=True)], Resolver({"python": OPENSSL_NEW}),
                   {("libssl3", "amd64"): "3.0.13-1"})  # fmt: skip
    assert only.verdict is Verdict.HELD and not only.rebuild
    assert only.why.startswith("held (zerocve fleet resume): libssl3 3.0.11-1 → 3.0.13-1")


def test_the_build_the_operator_rolled_back_is_not_planned_again_but_a_new_one_is():
    offered = {("libssl3", "amd64"): "3.0.13-1"}
    refused = frozenset({target_key(OPENSSL_NEW, "")})
    (only,) = planned([image("python", OPENSSL_OLD, rolled_back=refused)],
                   Resolver({"python": OPENSSL_NEW}), offered)  # fmt: skip
    assert only.verdict is Verdict.ROLLED_BACK and not only.rebuild
    assert only.why.startswith("rolled back by the operator (zerocve fleet resume python "
                               "--repromote allows it again): libssl3 3.0.11-1 → 3.0.13-1")
    newer = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.14-1", "openssl"))
    (again,) = planned([image("python", OPENSSL_OLD, rolled_back=refused)],
                    Resolver({"python": newer}), {("libssl3", "amd64"): "3.0.14-1"})
    assert again.verdict is Verdict.REBUILD


def test_a_resolution_failure_leaves_the_image_alone_and_says_why():
    def broken(img: PlanImage) -> Lock:
        raise ResolutionError("no candidate in bookworm main amd64", ["python3", "libssl3"])

    (only,) = planned([image("python", OPENSSL_OLD)], broken, {("libssl3", "amd64"): "3.0.13-1"})
    assert only.verdict is Verdict.FAILED
    assert only.why == "python3 → libssl3: no candidate in bookworm main amd64"


def test_new_advisory_data_makes_its_images_candidates():
    resolver = Resolver({"python": OPENSSL_OLD})
    (only,) = planned([image("python", OPENSSL_OLD)], resolver, {}, FIXES,
                   advisory_sources=["openssl"])  # fmt: skip
    assert resolver.asked == ["python"] and only.verdict is Verdict.UP_TO_DATE


def test_moves_name_added_and_removed_packages():
    changes = moves(make_lock(("a", "1"), ("b", "1")), make_lock(("b", "1"), ("c", "2")))
    assert [(m.name, m.old, m.new) for m in changes] == [("a", "1", None), ("c", None, "2")]


def test_newest_offered_uses_dpkg_order():
    offered = newest_offered([("a", "all", "1.0~rc1"), ("a", "all", "1.0"), ("a", "all", "0.9"),
                              ("b", "amd64", "1:0.1"), ("b", "amd64", "9.9")])  # fmt: skip
    assert offered == {("a", "all"): "1.0", ("b", "amd64"): "1:0.1"}


VERSIONS = st.sampled_from(["1.0", "1.0-1", "1.0-1+deb12u1", "1.0~rc1", "1:0.5", "2.0", "0.9"])


@given(old=st.none() | VERSIONS, new=st.none() | VERSIONS, fixed=VERSIONS)
def test_fixed_by_is_old_below_fixed_at_or_below_new(old, new, fixed):
    got = fixed_by([Fix("CVE-1", fixed)], old, new) == ("CVE-1",)
    expected = new is not None and compare(fixed, new) <= 0 and (
        old is None or compare(old, fixed) < 0
    )
    assert got == expected


# -- exhaustive: a model fleet over a model archive ---------------------------------------

NAMES = [f"p{i}" for i in range(8)]


def _resolve_model(requests: frozenset[str], offered: dict[tuple[str, str], str]) -> Lock:
    """A model resolver: each requested package at the newest offered version."""
    return make_lock(*((n, offered[(n, "amd64")]) for n in sorted(requests)))


@st.composite
def fleets(draw):
    versions = st.sampled_from(["1", "2", "3"])
    before = {(n, "amd64"): draw(versions) for n in NAMES}
    moved = draw(st.sets(st.sampled_from(NAMES)))
    after = {k: (draw(versions) if k[0] in moved else v) for k, v in before.items()}
    images = draw(st.lists(st.frozensets(st.sampled_from(NAMES), min_size=1), min_size=1,
                           max_size=6))  # fmt: skip
    return before, after, images


@settings(max_examples=300, deadline=None)
@given(fleets(), st.data())
def test_exactly_the_images_whose_package_set_would_change_or_spec_was_edited_are_rebuilt(
    fleet, data
):
    """Edited specs (outside their contents) are rebuilt too, and not re-resolved for it."""
    before, after, requests = fleet
    edited = data.draw(st.sets(st.integers(0, len(requests) - 1)))
    images = [image(f"i{n}", _resolve_model(r, before), build_digest=f"sha256:{n in edited}",
                    spec_change=EDITED if n in edited else None)
              for n, r in enumerate(requests)]  # fmt: skip
    by_name = dict(zip((i.name for i in images), requests, strict=True))
    asked: list[str] = []

    def resolver(img: PlanImage) -> Lock:
        asked.append(img.name)
        return _resolve_model(by_name[img.name], after)

    plans = planned(images, resolver, after)
    assert [p.name for p in plans] == [i.name for i in images]  # one plan per image
    for img, p in zip(images, plans, strict=True):
        assert img.current is not None
        fresh = _resolve_model(by_name[img.name], after)
        would_change = package_set_digest(fresh) != package_set_digest(img.current)
        assert p.rebuild == (would_change or img.spec_change is not None)
        if p.verdict is Verdict.NOT_HIT:  # narrowing never hides a hit
            assert not would_change and img.name not in asked and img.spec_change is None
        moved = {n for n in by_name[img.name] if before[(n, "amd64")] != after[(n, "amd64")]}
        assert {m.name for m in p.moves} == (moved if p.rebuild else set())
        if img.name in asked:  # re-resolved only when a package it holds moved
            assert moved
        elif p.rebuild:  # an edit alone: exactly the published packages
            assert p.target == img.current
        if p.rebuild:
            assert p.target_digest == target_key(fresh, img.build_digest)
            assert p.spec_change == img.spec_change
            assert (EDITED in p.why) == (img.spec_change is not None)
    assert len(asked) == len(set(asked))  # each image resolved at most once


# -- with the real resolver ---------------------------------------------------------------

REPO = "file:///srv/repo"


def _pkg(name: str, version: str, suite: str, **fields) -> BinaryPackage:
    return BinaryPackage(
        name=name, version=version, architecture=fields.pop("arch", "amd64"),
        source=fields.pop("source", name), source_version=fields.pop("source_version", version),
        filename=f"pool/main/{name}_{version}.deb", size=1,
        sha256=hashlib.sha256(f"{name} {version}".encode()).hexdigest(),
        origin=Origin(REPO, suite, "main", "amd64"), **fields,
    )  # fmt: skip


def _indices(security: tuple[BinaryPackage, ...]) -> list[PackageIndex]:
    def index(suite: str, *packages: BinaryPackage) -> PackageIndex:
        return PackageIndex(Origin(REPO, suite, "main", "amd64"), "main/binary-amd64/Packages",
                            "0" * 64, "1" * 64, ParsedCatalog(packages),
                            parsedate_to_datetime("Sat, 10 May 2025 08:00:00 UTC"))  # fmt: skip

    return [
        index("bookworm",
              _pkg("app", "1.0", "bookworm", depends="libssl3 (>= 3)"),
              _pkg("libssl3", "3.0.11-1", "bookworm", source="openssl"),
              _pkg("tzdata", "2024a-0+deb12u1", "bookworm", arch="all")),
        index("bookworm-security", *security),
    ]  # fmt: skip


def _spec(package: str):
    return parse_spec(
        f"contents: {{repositories: [{{uri: '{REPO}', suites: [bookworm, bookworm-security],"
        f" keyring: /k.gpg}}], packages: [{package}]}}"
    )


@pytest.mark.parametrize("pin", [False, True])
def test_with_the_real_resolver_a_security_update_reaches_its_images_only(pin):
    specs = {"app": _spec("app=1.0" if not pin else "libssl3=3.0.11-1"), "tz": _spec("tzdata")}

    def lock_with(indices: list[PackageIndex]):
        return lambda img: lock_spec(specs[img.name], lambda repos, arch: indices, list)

    old = _indices(())
    current = {name: lock_with(old)(PlanImage(name, None, "")) for name in specs}
    new = _indices((_pkg("libssl3", "3.0.13-1", "bookworm-security", source="openssl"),))
    offered = newest_offered((p.name, p.architecture, p.version)
                             for index in new for p in index.packages)  # fmt: skip
    images = [PlanImage(n, current[n], specs[n].resolution_digest()) for n in specs]
    plans = {p.name: p for p in planned(images, lock_with(new), offered, FIXES)}
    assert plans["tz"].verdict is Verdict.NOT_HIT
    if pin:
        assert plans["app"].verdict is Verdict.UP_TO_DATE
    else:
        assert plans["app"].rebuild and plans["app"].fixes == ("CVE-2024-0727",)
        assert [m.describe() for m in plans["app"].moves] == [
            "libssl3 3.0.11-1 → 3.0.13-1 fixes CVE-2024-0727"
        ]


# -- new names reachable only through Provides ----------------------------------------------


def test_new_providers_name_what_they_provide_and_what_depends_on_it():
    app = _pkg("app", "1.0", "bookworm", depends="libc6, mail-transport-agent | exim4")
    other = _pkg("other", "1.0", "bookworm", pre_depends="libfoo1 (>= 1)")
    plain = _pkg("plain", "1.0", "bookworm", depends="libc6")
    postfix = _pkg("postfix", "3.7", "bookworm-security", provides="mail-transport-agent")
    foo = _pkg("libfoo1t64", "1.1", "bookworm-security", provides="libfoo1 (= 1.1)")
    broken = _pkg("junk", "1", "bookworm-security", provides="a | b")
    found = new_providers([postfix, foo, broken], [app, other, plain, postfix, foo])
    assert found == {
        "mail-transport-agent": "new postfix 3.7 provides mail-transport-agent",
        "libfoo1": "new libfoo1t64 1.1 provides libfoo1",
        "app": "new postfix 3.7 provides mail-transport-agent, which app depends on",
        "other": "new libfoo1t64 1.1 provides libfoo1, which other depends on",
    }
    assert new_providers([_pkg("x", "1", "bookworm")], [app]) == {}


def test_moved_names_are_those_offered_at_another_version():
    held = {("libssl3", "amd64", "3.0.11-1"), ("libc6", "amd64", "2.36-9"), ("gone", "all", "1")}
    offered = {("libssl3", "amd64"): "3.0.13-1", ("libc6", "amd64"): "2.36-9"}
    assert moved_names(held, offered) == {"libssl3"}


def test_a_held_name_or_a_requested_name_that_a_new_package_provides_is_a_candidate():
    provided = {"libssl3": "new libssl3t64 3.0.13-1 provides libssl3",
                "httpd": "new nginx 1.2 provides httpd"}  # fmt: skip
    resolver = Resolver({"python": OPENSSL_OLD, "web": TZ, "static": TZ})
    plans = planned([image("python", OPENSSL_OLD), image("web", TZ), image("static", TZ)],
                    resolver, {}, provided=provided, requests={"web": ["httpd"]})
    assert resolver.asked == ["python", "web"]
    assert [p.verdict for p in plans] == [Verdict.UP_TO_DATE] * 2 + [Verdict.NOT_HIT]


def test_with_the_real_resolver_a_new_name_that_provides_a_held_one_is_re_resolved():
    """libssl3t64 (a new name, as Debian's t64 transition made them) provides libssl3: no
    package the image holds moved, yet its re-resolution might change: it is a candidate."""
    specs = {"app": _spec("app"), "tz": _spec("tzdata")}
    asked: list[str] = []

    def lock_with(indices: list[PackageIndex]):
        def resolve(img: PlanImage) -> Lock:
            asked.append(img.name)
            return lock_spec(specs[img.name], lambda repos, arch: indices, list)
        return resolve

    old = _indices(())
    current = {name: lock_with(old)(PlanImage(name, None, "")) for name in specs}
    t64 = _pkg("libssl3t64", "3.0.13-1", "bookworm-security", source="openssl",
               provides="libssl3 (= 3.0.13-1)")
    new = _indices((t64,))
    everything = [p for index in new for p in index.packages]
    offered = newest_offered((p.name, p.architecture, p.version) for p in everything)
    provided = new_providers([t64], everything)
    images = [PlanImage(n, current[n], specs[n].resolution_digest()) for n in specs]
    asked.clear()
    plans = {p.name: p for p in planned(images, lock_with(new), offered, FIXES,
                                        provided=provided)}  # fmt: skip
    assert asked == ["app"] and plans["tz"].verdict is Verdict.NOT_HIT
    assert plans["app"].verdict in (Verdict.REBUILD, Verdict.UP_TO_DATE)
    without = {p.name: p for p in planned(images, lock_with(new), offered, FIXES)}
    assert without["app"].verdict is Verdict.NOT_HIT  # the index alone would not find it


# -- a spec edited outside its contents (entrypoint, environment...) -------------------------

EDITED = "the spec changed: entrypoint"


def test_a_spec_change_alone_rebuilds_the_published_packages_without_re_resolving():
    resolver = Resolver({})  # asking it would be a KeyError
    (only,) = planned([image("python", OPENSSL_OLD, build_digest="sha256:b", spec_change=EDITED)],
                      resolver, {("tzdata", "amd64"): "2099a-1"})  # fmt: skip
    assert resolver.asked == []
    assert (only.verdict, only.why, only.moves) == (Verdict.REBUILD, EDITED, ())
    assert only.target == OPENSSL_OLD  # exactly the published lock: no upgrade rides along
    assert only.target_digest == target_key(OPENSSL_OLD, "sha256:b")
    assert only.target_digest != target_key(OPENSSL_OLD, "sha256:a")  # another spec, another job
    assert only.to_json()["spec_change"] == EDITED


def test_a_spec_change_and_a_package_move_are_one_rebuild_naming_both():
    resolver = Resolver({"python": OPENSSL_NEW})
    (only,) = planned([image("python", OPENSSL_OLD, build_digest="sha256:b", spec_change=EDITED)],
                      resolver, {("libssl3", "amd64"): "3.0.13-1"}, FIXES)  # fmt: skip
    assert resolver.asked == ["python"] and only.rebuild
    assert only.why == f"libssl3 3.0.11-1 → 3.0.13-1 fixes CVE-2024-0727; {EDITED}"
    assert only.target_digest == target_key(OPENSSL_NEW, "sha256:b")


def test_a_spec_change_whose_hit_re_resolves_to_the_same_packages_says_only_the_spec():
    resolver = Resolver({"python": OPENSSL_OLD})
    (only,) = planned([image("python", OPENSSL_OLD, spec_change=EDITED)], resolver,
                      {("libssl3", "amd64"): "3.0.13-1"})  # fmt: skip
    assert resolver.asked == ["python"]
    assert (only.verdict, only.why) == (Verdict.REBUILD, EDITED)


def test_a_spec_change_of_a_never_built_image_is_its_first_build():
    (only,) = planned([image("new", None, spec_change=EDITED)], Resolver({"new": TZ}), {})
    assert (only.verdict, only.why, only.spec_change) == (
        Verdict.REBUILD, "never built (1 packages)", None)


def test_a_spec_change_of_a_held_or_rolled_back_build_is_not_promoted():
    changed = image("python", OPENSSL_OLD, build_digest="sha256:b", spec_change=EDITED,
                    held=True)  # fmt: skip
    (held,) = planned([changed], Resolver({}), {})
    assert held.verdict is Verdict.HELD and held.why == f"held (zerocve fleet resume): {EDITED}"
    refused = frozenset({target_key(OPENSSL_OLD, "sha256:b")})
    resumed = image("python", OPENSSL_OLD, build_digest="sha256:b", spec_change=EDITED,
                    rolled_back=refused)  # fmt: skip
    (again,) = planned([resumed], Resolver({}), {})
    assert again.verdict is Verdict.ROLLED_BACK
    # The operator edits the spec once more: another target, rebuilt as usual.
    fixed = image("python", OPENSSL_OLD, build_digest="sha256:c", spec_change=EDITED,
                  rolled_back=refused)  # fmt: skip
    (rebuilt,) = planned([fixed], Resolver({}), {})
    assert rebuilt.verdict is Verdict.REBUILD


def test_a_build_rolled_back_before_keys_covered_the_spec_stays_refused():
    """Jobs planned before migration 0004 are keyed by their package set alone."""
    legacy = frozenset({package_set_digest(OPENSSL_NEW)})
    old = image("python", OPENSSL_OLD, build_digest="sha256:b",
                spec_change="the spec it was built from is not recorded", rolled_back=legacy)
    (only,) = planned([old], Resolver({"python": OPENSSL_NEW}), {("libssl3", "amd64"): "3.0.13-1"})
    assert only.verdict is Verdict.ROLLED_BACK
