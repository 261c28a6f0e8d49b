"""The resolver: one small hand-written index per rule, then the real python3 closure from the
host's indices, checked against apt itself."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _host_indices import LISTS, host_packages, native_arch, real_packages

from zerocve.debian import resolve as resolve_module
from zerocve.debian.catalog import ParsedCatalog
from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.resolve import parse_request, resolve, resolve_in
from zerocve.debian.version import compare
from zerocve.errors import ResolutionError

MAIN = Origin("file:///srv/repo", "bookworm", "main", "amd64")
SECURITY = Origin("file:///srv/repo", "bookworm-security", "main", "amd64")
EXCLUDE = ["dpkg", "debconf", "debconf-2.0", "tar", "perl-base"]


def pkg(name: str, version: str = "1.0", arch: str = "amd64", **fields: Any) -> BinaryPackage:
    origin = fields.pop("origin", MAIN)
    return BinaryPackage(
        name=name,
        version=version,
        architecture=arch,
        source=fields.pop("source", name),
        source_version=version,
        filename=f"pool/{origin.suite}/{name}_{version}_{arch}.deb",
        size=1000,
        sha256=hashlib.sha256(f"{name} {version} {arch} {origin}".encode()).hexdigest(),
        origin=origin,
        **fields,
    )


def keys(result: list[BinaryPackage]) -> list[str]:
    return [f"{p.name}:{p.architecture}={p.version}" for p in result]


def names(result: list[BinaryPackage]) -> list[str]:
    return [p.name for p in result]


def failure(requests: list[str], index: list[BinaryPackage], **kwargs: Any) -> str:
    with pytest.raises(ResolutionError) as info:
        resolve(requests, index, "amd64", **kwargs)
    return info.value.diagnostics()


# -- requests -------------------------------------------------------------------------------


def test_parse_request() -> None:
    assert parse_request("python3") == parse_request(" python3 ")
    r = parse_request("libc6:i386=2.36-9")
    assert (r.name, r.arch, r.version) == ("libc6", "i386", "2.36-9")
    with pytest.raises(ResolutionError, match="invalid package request 'Py thon'"):
        parse_request("Py thon")
    with pytest.raises(ResolutionError, match="'foo=a:1': invalid version 'a:1': epoch is not"):
        parse_request("foo=a:1")


def test_invalid_version_in_an_index_names_the_package() -> None:
    assert failure(["app"], [pkg("app", "1:")]) == (
        "app in bookworm main amd64: invalid version '1:': empty upstream part"
    )


def test_unknown_request_suggests_a_close_name() -> None:
    index = [pkg("python3"), pkg("perl"), pkg("mawk", provides="awk")]
    assert failure(["pyhton3"], index) == "unknown package 'pyhton3' (did you mean 'python3'?)"
    # Virtual names count as names to suggest.
    assert failure(["akw"], index) == "unknown package 'akw' (did you mean 'awk'?)"
    assert failure(["zzzzzz"], index) == "unknown package 'zzzzzz'"


# -- closure and candidates -----------------------------------------------------------------


def test_closure_follows_depends_and_pre_depends_only() -> None:
    index = [
        pkg("app", depends="liba (>= 1), libb", pre_depends="libpre"),
        pkg("liba", "2.0", depends="libc6"),
        pkg("libb", depends="libc6"),
        pkg("libpre"),
        pkg("libc6", "2.36", priority="required"),
        pkg("unrelated", essential=True, priority="required"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "liba", "libb", "libc6", "libpre"]


def test_highest_version_wins_across_suites_whatever_the_input_order() -> None:
    index = [
        pkg("libssl3", "3.0.15-1~deb12u1"),
        pkg("libssl3", "3.0.17-1~deb12u2", origin=SECURITY),
        pkg("libssl3", "3.0.9-1"),
        pkg("openssl", "3.0.15-1~deb12u1", depends="libssl3 (>= 3.0.9)"),
    ]
    for seed in range(5):
        shuffled = index[:]
        random.Random(seed).shuffle(shuffled)
        result = resolve(["openssl"], shuffled, "amd64")
        assert keys(result) == [
            "libssl3:amd64=3.0.17-1~deb12u2",
            "openssl:amd64=3.0.15-1~deb12u1",
        ]
        assert result[0].origin == SECURITY


def test_same_version_in_two_suites_is_taken_from_one_fixed_origin() -> None:
    updates = Origin("file:///srv/repo", "bookworm-updates", "main", "amd64")
    index = [pkg("tzdata", "2025b", "all", origin=updates), pkg("tzdata", "2025b", "all")]
    first = resolve(["tzdata"], index, "amd64")
    second = resolve(["tzdata"], index[::-1], "amd64")
    assert first == second and len(first) == 1
    assert first[0].origin == MAIN  # "bookworm" sorts before "bookworm-updates"


def test_arch_all_and_native_share_one_candidate() -> None:
    # A package that moved from Architecture: any to all keeps one candidate: the newest.
    index = [pkg("foo", "1.0", "amd64"), pkg("foo", "2.0", "all"), pkg("foo", "3.0", "arm64")]
    assert keys(resolve(["foo"], index, "amd64")) == ["foo:all=2.0"]


def test_pin_picks_exactly_that_version() -> None:
    index = [pkg("foo", "1.0"), pkg("foo", "2.0"), pkg("foo", "1:0.5")]
    assert keys(resolve(["foo=2.0"], index, "amd64")) == ["foo:amd64=2.0"]
    assert keys(resolve(["foo=1.0"], index, "amd64")) == ["foo:amd64=1.0"]
    message = failure(["foo=9"], index)
    assert message == (
        "foo=9: version 9 not found in bookworm main amd64 (available: 1.0, 2.0, 1:0.5)"
    )


def test_pin_pulls_the_matching_exact_dependency() -> None:
    index = [
        pkg("python3.11", "3.11.2-6", depends="libpython3.11-stdlib (= 3.11.2-6)"),
        pkg("libpython3.11-stdlib", "3.11.2-6"),
        pkg("python3.11", "3.11.2-6+deb12u9", origin=SECURITY,
            depends="libpython3.11-stdlib (= 3.11.2-6+deb12u9)"),
        pkg("libpython3.11-stdlib", "3.11.2-6+deb12u9", origin=SECURITY),
    ]  # fmt: skip
    assert keys(resolve(["python3.11"], index, "amd64")) == [
        "libpython3.11-stdlib:amd64=3.11.2-6+deb12u9",
        "python3.11:amd64=3.11.2-6+deb12u9",
    ]
    assert keys(resolve(["python3.11=3.11.2-6"], index, "amd64")) == [
        "libpython3.11-stdlib:amd64=3.11.2-6",
        "python3.11:amd64=3.11.2-6",
    ]


def test_pin_that_contradicts_a_dependency_fails_with_the_chain() -> None:
    index = [
        pkg("app", depends="libfoo (>= 2)"),
        pkg("libfoo", "1.0"),
        pkg("libfoo", "2.0"),
    ]
    assert failure(["app", "libfoo=1.0"], index) == (
        "app → libfoo (>= 2): no candidate in bookworm main amd64 "
        "(libfoo 1.0 is selected, via libfoo=1.0; libfoo is pinned to 1.0)"
    )


@pytest.mark.parametrize(
    ("op", "target", "chosen"),
    [
        (">=", "2.0", "3.0"),
        (">>", "2.0", "3.0"),
        ("<=", "2.0", "2.0"),
        ("<<", "2.0", "1.0"),
        ("=", "2.0", "2.0"),
        ("<<", "1.0", None),
        (">>", "3.0", None),
        ("=", "2.5", None),
        (">=", "3.0~rc1", "3.0"),
        ("<<", "3.0~", "2.0"),
    ],
)
def test_version_relations_take_the_highest_version_that_fits(
    op: str, target: str, chosen: str | None
) -> None:
    index = [pkg("app", depends=f"lib ({op} {target})")] + [
        pkg("lib", v) for v in ("1.0", "2.0", "3.0")
    ]
    if chosen is None:
        assert failure(["app"], index) == (
            f"app → lib ({op} {target}): no candidate in bookworm main amd64 "
            "(lib 3.0 is available; lib 2.0 is available; lib 1.0 is available)"
        )
    else:
        assert keys(resolve(["app"], index, "amd64"))[1] == f"lib:amd64={chosen}"


def test_failure_explains_the_whole_chain() -> None:
    index = [
        pkg("python3", "3.11.2-1+b1", depends="python3.11 (>= 3.11.2-1~)"),
        pkg("python3.11", "3.11.2-6+deb12u9",
            depends="libpython3.11-stdlib (= 3.11.2-6+deb12u9), tzdata"),
        pkg("libpython3.11-stdlib", "3.11.2-6"),
        pkg("tzdata", "2025b", "all"),
    ]  # fmt: skip
    with pytest.raises(ResolutionError) as info:
        resolve(["python3"], index, "amd64")
    assert info.value.chain == [
        "python3",
        "python3.11",
        "libpython3.11-stdlib (= 3.11.2-6+deb12u9)",
    ]
    assert info.value.diagnostics() == (
        "python3 → python3.11 → libpython3.11-stdlib (= 3.11.2-6+deb12u9): no candidate in "
        "bookworm main amd64 (libpython3.11-stdlib 3.11.2-6 is available)"
    )


def test_missing_name_lists_every_origin_searched() -> None:
    index = [pkg("app", depends="ghost"), pkg("other", origin=SECURITY)]
    assert failure(["app"], index) == (
        "app → ghost: no candidate in bookworm main amd64, bookworm-security main amd64"
    )


def test_bad_relationship_field_names_the_package() -> None:
    index = [pkg("app", "1.0", depends="libc6 (>= )")]
    assert failure(["app"], index) == (
        "app 1.0 (bookworm main amd64): bad Depends: cannot parse relation 'libc6 (>= )'"
    )


# -- alternatives ---------------------------------------------------------------------------


def test_first_satisfiable_alternative_in_order() -> None:
    index = [
        pkg("app", depends="missing | libold (>= 2) | libnew | libother"),
        pkg("libold", "1.0"),
        pkg("libnew"),
        pkg("libother"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "libnew"]


def test_alternative_already_selected_is_preferred() -> None:
    index = [pkg("app", depends="mawk | gawk"), pkg("mawk"), pkg("gawk")]
    assert names(resolve(["app"], index, "amd64")) == ["app", "mawk"]
    # Requests are selected before any dependency is followed, whatever their order.
    assert names(resolve(["app", "gawk"], index, "amd64")) == ["app", "gawk"]


def test_alternative_chosen_earlier_in_the_closure_is_reused() -> None:
    index = [
        pkg("app", depends="liba, libb"),
        pkg("liba", depends="impl2"),
        pkg("libb", depends="impl1 | impl2"),
        pkg("impl1"),
        pkg("impl2"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "impl2", "liba", "libb"]


# -- virtual packages and Provides ----------------------------------------------------------


def test_single_provider_satisfies_a_virtual_dependency() -> None:
    index = [pkg("app", depends="awk"), pkg("mawk", provides="awk")]
    assert names(resolve(["app"], index, "amd64")) == ["app", "mawk"]
    # A virtual name can be requested too.
    assert names(resolve(["awk"], index, "amd64")) == ["mawk"]


def test_real_package_wins_over_providers() -> None:
    index = [pkg("app", depends="foo"), pkg("foo"), pkg("afoo", provides="foo")]
    assert names(resolve(["app"], index, "amd64")) == ["app", "foo"]


def test_provider_choice_rule() -> None:
    providers = [
        pkg("zmta", provides="mail-transport-agent", priority="standard"),
        pkg("bmta", provides="mail-transport-agent", priority="optional"),
        pkg("amta", provides="mail-transport-agent", priority="extra"),
        pkg("cmta", provides="mail-transport-agent", priority="optional"),
    ]
    index = [pkg("app", depends="mail-transport-agent"), *providers]
    # Highest priority first...
    assert names(resolve(["app"], index, "amd64")) == ["app", "zmta"]
    # ...then alphabetical among equal priorities...
    without_standard = [p for p in index if p.name != "zmta"]
    assert names(resolve(["app"], without_standard, "amd64")) == ["app", "bmta"]
    # ...and a provider named in the requests beats them all.
    assert names(resolve(["app", "amta"], index, "amd64")) == ["amta", "app"]


def test_versioned_dependency_needs_a_matching_versioned_provide() -> None:
    index = [
        pkg("app", depends="libfoo-abi (>= 2)"),
        pkg("unversioned", provides="libfoo-abi"),
        pkg("old", provides="libfoo-abi (= 1)"),
        pkg("new", provides="libfoo-abi (= 2.1)"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "new"]
    index = [pkg("app", depends="libfoo-abi (>= 2)"), *index[1:3]]
    assert failure(["app"], index) == "app → libfoo-abi (>= 2): no candidate in bookworm main amd64"
    # An unversioned dependency takes any provider, versioned or not.
    index = [pkg("app", depends="libfoo-abi"), *index[1:3]]
    assert names(resolve(["app"], index, "amd64")) == ["app", "old"]


def test_versioned_provide_of_a_real_name() -> None:
    # python3-foo (>= 2) is satisfied by a package that provides it at 2.0 when the real
    # python3-foo is too old.
    index = [
        pkg("app", depends="python3-foo (>= 2)"),
        pkg("python3-foo", "1.0"),
        pkg("python3-foo-ng", "2.0", provides="python3-foo (= 2.0)"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "python3-foo-ng"]


# -- Multi-Arch -----------------------------------------------------------------------------


def test_other_architectures_are_ignored_for_a_single_arch_image() -> None:
    index = [pkg("app", depends="libfoo"), pkg("libfoo", "2.0", "arm64"), pkg("libfoo", "1.0")]
    assert keys(resolve(["app"], index, "amd64")) == ["app:amd64=1.0", "libfoo:amd64=1.0"]


def test_any_qualifier_needs_multi_arch_allowed() -> None:
    index = [
        pkg("tool", depends="python3:any (>= 3.11)"),
        pkg("python3", "3.11", multi_arch="allowed"),
    ]
    assert names(resolve(["tool"], index, "amd64")) == ["python3", "tool"]
    index = [pkg("tool", depends="python3:any (>= 3.11)"), pkg("python3", "3.11")]
    assert failure(["tool"], index) == (
        "tool → python3:any (>= 3.11): no candidate in bookworm main amd64 "
        "(python3:amd64 3.11 does not fit the architecture (Multi-Arch: no))"
    )


def test_foreign_architecture_request_and_multi_arch_rules() -> None:
    index = [
        pkg("libfoo", arch="i386", depends="libc6, helper, data, conf", multi_arch="same"),
        pkg("libc6", "2.36", "i386", multi_arch="same"),
        pkg("libc6", "2.36", "amd64", multi_arch="same"),
        pkg("helper", arch="amd64", multi_arch="foreign"),
        pkg("helper", arch="i386", multi_arch="foreign"),
        pkg("data", arch="all", multi_arch="foreign"),
        pkg("conf", arch="all"),
    ]
    # dpkg's rule: an i386 package's unqualified dependency wants i386, or any architecture
    # when the target is Multi-Arch: foreign; an Architecture: all package counts as native,
    # so without Multi-Arch: foreign it cannot serve an i386 package.
    assert failure(["libfoo:i386"], index) == (
        "libfoo:i386 → conf: no candidate in bookworm main amd64 "
        "(conf:all 1.0 does not fit the architecture (Multi-Arch: no))"
    )
    index[-1] = pkg("conf", arch="all", multi_arch="foreign")
    result = resolve(["libfoo:i386"], index, "amd64")
    assert keys(result) == [
        "conf:all=1.0",
        "data:all=1.0",
        "helper:amd64=1.0",  # foreign: the native one is preferred
        "libc6:i386=2.36",  # same: the depender's own architecture
        "libfoo:i386=1.0",
    ]
    # Multi-Arch: same instances coexist at one version.
    both = resolve(["libfoo:i386", "libc6"], index, "amd64")
    assert [k for k in keys(both) if k.startswith("libc6")] == [
        "libc6:amd64=2.36",
        "libc6:i386=2.36",
    ]


def test_two_architectures_of_a_package_that_is_not_multi_arch_same_clash() -> None:
    index = [pkg("tool", "1.0", "amd64"), pkg("tool", "1.0", "i386")]
    assert failure(["tool", "tool:i386"], index) == (
        "tool:i386: no candidate in bookworm main amd64 (tool:i386 1.0 cannot be installed "
        "beside tool:amd64 1.0 (Multi-Arch: no))"
    )


# -- exclusions and Essential ---------------------------------------------------------------


def test_maintainer_script_only_dependencies_are_left_out() -> None:
    index = [
        pkg("tzdata", "2025b", "all", depends="debconf (>= 0.5) | debconf-2.0"),
        pkg("python3-minimal", pre_depends="dpkg (>= 1.13.20)"),
        pkg("debconf", "1.5.82", "all", provides="debconf-2.0", depends="perl-base"),
        pkg("cdebconf", "0.270", provides="debconf-2.0"),
        pkg("dpkg", "1.21.22", depends="tar (>= 1.28-1)", essential=True, priority="required"),
        pkg("tar", "1.34", essential=True, priority="required"),
        pkg("perl-base", "5.36", essential=True, priority="required"),
    ]
    result = resolve(["tzdata", "python3-minimal"], index, "amd64", exclude=EXCLUDE)
    assert names(result) == ["python3-minimal", "tzdata"]
    # Without the exclusions, apt's answer.
    assert names(resolve(["tzdata", "python3-minimal"], index, "amd64")) == [
        "debconf",
        "dpkg",
        "perl-base",
        "python3-minimal",
        "tar",
        "tzdata",
    ]
    # Requested explicitly, an excluded package is installed (with its own dependencies,
    # minus the other exclusions).
    assert names(resolve(["tzdata", "dpkg"], index, "amd64", exclude=EXCLUDE)) == [
        "dpkg",
        "tzdata",
    ]


def test_virtual_name_only_excluded_packages_provide_counts_as_satisfied() -> None:
    index = [
        pkg("app", depends="debconf-2.0"),
        pkg("debconf", provides="debconf-2.0"),
        pkg("cdebconf", provides="debconf-2.0"),
    ]
    assert names(resolve(["app"], index, "amd64", exclude=["debconf", "cdebconf"])) == ["app"]
    # With one provider left, it is chosen: excluded packages are never chosen as providers.
    assert names(resolve(["app"], index, "amd64", exclude=["debconf"])) == ["app", "cdebconf"]


def test_essential_and_required_packages_are_not_added_unasked() -> None:
    index = [
        pkg("app", depends="libc6"),
        pkg("libc6", priority="required"),
        pkg("bash", essential=True, priority="required"),
        pkg("base-files", essential=True, priority="required"),
    ]
    assert names(resolve(["app"], index, "amd64")) == ["app", "libc6"]
    assert names(resolve(["app", "bash"], index, "amd64")) == ["app", "bash", "libc6"]


# -- Conflicts and Breaks -------------------------------------------------------------------


def test_conflicts_between_requests_name_both() -> None:
    index = [pkg("exim4", conflicts="postfix"), pkg("postfix", "3.7")]
    assert failure(["exim4", "postfix"], index) == (
        "postfix: no candidate in bookworm main amd64 "
        "(exim4 1.0 conflicts postfix, which postfix 3.7 is)"
    )


def test_breaks_with_version_and_via_provides() -> None:
    index = [
        pkg("libc6", "2.36", breaks="nscd (<< 2.36)"),
        pkg("nscd", "2.31"),
        pkg("newmail", provides="mail-transport-agent", conflicts="mail-transport-agent"),
        pkg("oldmail", provides="mail-transport-agent", conflicts="mail-transport-agent"),
    ]
    assert failure(["nscd", "libc6"], index) == (
        "libc6: no candidate in bookworm main amd64 (libc6 2.36 breaks nscd (<< 2.36), "
        "which nscd 2.31 is)"
    )
    index[1] = pkg("nscd", "2.36")
    assert names(resolve(["nscd", "libc6"], index, "amd64")) == ["libc6", "nscd"]
    # A package may conflict with a virtual name it provides itself, but not with another
    # provider of it.
    assert names(resolve(["newmail"], index, "amd64")) == ["newmail"]
    assert "newmail 1.0 conflicts mail-transport-agent, which oldmail 1.0 is (via Provides)" in (
        failure(["newmail", "oldmail"], index)
    )


def test_conflicting_alternative_is_passed_over() -> None:
    index = [
        pkg("app", depends="libfoo-gnutls | libfoo-openssl"),
        pkg("libfoo-gnutls", conflicts="libssl-legacy"),
        pkg("libfoo-openssl"),
        pkg("libssl-legacy"),
    ]
    assert names(resolve(["libssl-legacy", "app"], index, "amd64")) == [
        "app",
        "libfoo-openssl",
        "libssl-legacy",
    ]


def test_result_is_sorted_and_deterministic() -> None:
    index = [
        pkg("app", depends="b, a, c | d"),
        pkg("c", depends="a"),
        pkg("b"),
        pkg("a", "1.0", "all"),
        pkg("d"),
    ]
    results = set()
    for seed in range(10):
        shuffled = index[:]
        random.Random(seed).shuffle(shuffled)
        results.add(tuple(keys(resolve(["app"], shuffled, "amd64"))))
    assert results == {("a:all=1.0", "app:amd64=1.0", "b:amd64=1.0", "c:amd64=1.0")}


# -- the real thing -------------------------------------------------------------------------

IMAGE = ["python3", "ca-certificates", "tzdata"]


@pytest.fixture(scope="module")
def real_index(request: pytest.FixtureRequest) -> tuple[BinaryPackage, ...]:
    return real_packages(request)


def _apt_closure(requests: list[str], status: Path) -> list[str]:
    """What apt would install on an empty system, from the same lists (no root needed)."""
    if not host_packages(native_arch()):
        pytest.skip(f"no apt lists under {LISTS} for apt to resolve from (run apt-get update)")
    status.write_text("")
    out = subprocess.run(
        ["apt-get", "install", "--simulate", "--no-install-recommends",
         "-o", f"Dir::State::status={status}", "-o", "Debug::NoLocking=1", *requests],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.findall(r"^Inst (\S+) \((\S+) ", out, re.MULTILINE)
    return sorted(f"{name} {version}" for name, version in found)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get as an oracle")
@pytest.mark.parametrize(
    "requests",
    [
        IMAGE,
        # Compilers, perl, scientific python: hundreds of alternatives and virtual names.
        ["gcc", "g++", "git", "curl", "perl", "python3-scipy"],
        # Virtual providers chosen by priority (mail-transport-agent, httpd, php...).
        ["postfix", "nginx", "php-fpm", "default-mysql-server"],
    ],
    ids=["python3", "toolchain", "servers"],
)
def test_real_closure_is_exactly_apts(
    requests: list[str], real_index: tuple[BinaryPackage, ...], tmp_path: Path
) -> None:
    result = resolve(requests, real_index, native_arch())
    assert sorted(f"{p.name} {p.version}" for p in result) == _apt_closure(
        requests, tmp_path / "status"
    )


def test_real_python3_closure_without_maintainer_script_packages(
    real_index: tuple[BinaryPackage, ...],
) -> None:
    arch = native_arch()
    result = resolve(IMAGE, real_index, arch, exclude=EXCLUDE)
    found = names(result)
    for wanted in ("python3", "libpython3.11-stdlib", "libssl3", "ca-certificates", "tzdata",
                   "libc6", "openssl", "media-types"):  # fmt: skip
        assert wanted in found
    for absent in ("dpkg", "debconf", "tar", "perl-base", "bash", "coreutils", "base-files"):
        assert absent not in found
    assert len(found) == len(set(found)), "a package is listed twice"
    assert all(p.architecture in (arch, "all") for p in result)
    # Every dependency of every package is met inside the result (or is an exclusion).
    again = resolve(IMAGE, result, arch, exclude=EXCLUDE)
    assert again == result
    # Deterministic across runs and input order.
    shuffled = list(real_index)
    random.Random(7).shuffle(shuffled)
    assert resolve(IMAGE, shuffled, arch, exclude=EXCLUDE) == result
    # The newest version wins across suites: no package has a newer version in the index.
    newest: dict[tuple[str, str], str] = {}
    for p in real_index:
        key = (p.name, p.architecture)
        if key not in newest or compare(p.version, newest[key]) > 0:
            newest[key] = p.version
    assert all(p.version == newest[(p.name, p.architecture)] for p in result)


def test_real_index_unknown_name_and_unsatisfiable_pin(
    real_index: tuple[BinaryPackage, ...],
) -> None:
    with pytest.raises(ResolutionError) as info:
        resolve(["pyhton3"], real_index, native_arch())
    assert info.value.diagnostics() == "unknown package 'pyhton3' (did you mean 'python3'?)"
    with pytest.raises(ResolutionError, match=r"^version 0\.1 not found in .*available: "):
        resolve(["python3=0.1"], real_index, native_arch())


def test_requested_real_package_is_installed_even_when_something_provides_it() -> None:
    index = [pkg("gawk"), pkg("mawk", provides="gawk")]
    assert names(resolve(["mawk", "gawk"], index, "amd64")) == ["gawk", "mawk"]


def test_many_specs_against_the_same_indices_share_one_universe(
    real_index: tuple[BinaryPackage, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []

    class Counted(resolve_module._Universe):
        def __init__(self, *args: Any) -> None:
            built.append(1)
            super().__init__(*args)

    monkeypatch.setattr(resolve_module, "_Universe", Counted)
    monkeypatch.setattr(resolve_module, "_UNIVERSES", resolve_module._Universes(size=4))
    arch = native_arch()
    catalog = ParsedCatalog(real_index)
    requests = [["python3"], ["curl"], ["tzdata", "ca-certificates"], ["perl"], ["openssl"]]
    for request in requests:
        assert keys(resolve_in(request, [catalog], arch)) == keys(
            resolve(request, real_index, arch)
        )
    assert len(built) == len(requests) + 1  # one per resolve(); one for every resolve_in()
    resolve_in(["curl"], [ParsedCatalog(real_index[:-1])], arch)  # another catalog, universe
    assert len(built) == len(requests) + 2
