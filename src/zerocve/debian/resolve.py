"""Dependency closure over parsed package indices: what an image must hold, and nothing else.

Pure: no I/O. ``resolve`` takes the packages of every index searched (several suites may offer
the same name), ``resolve_in`` their catalogs (``zerocve.debian.catalog``), and each returns
the closure of the requests for one architecture. Only the names a resolution reaches are
looked up, so a stanza no resolution reaches is never parsed, nor checked (its version, its
Provides): a full Debian index has 63,000 of them, an image reaches a few hundred.

The rules, in the order they apply (apt-like, greedy, deterministic; no backtracking):

1. **Requests** are ``name``, ``name:arch`` or ``name=version`` (``name:arch=version``). An
   unknown name fails with the closest known names (real and virtual). All requests are
   selected first, then their dependencies are followed breadth first, requests in order,
   Pre-Depends before Depends, in field order.
2. **Candidates.** Packages of the target architecture and ``all`` are considered (plus any
   architecture named in a request, as ``dpkg --add-architecture`` would). Among all suites,
   the highest version of a name wins (so ``bookworm-security`` beats ``bookworm``); a pin
   ``name=version`` makes that version the only one. When the highest version does not
   satisfy a versioned dependency, the highest version that does is taken: pinning
   ``python3.11=X`` thus pulls ``libpython3.11-stdlib (= X)`` instead of failing, as apt would.
   A version offered by several suites is taken from the first origin in sorted order.
3. **Dependencies** (Pre-Depends and Depends; Recommends and Suggests are ignored). A
   dependency is satisfied, with nothing added, when one of its alternatives is satisfied by a
   package already selected, or names an excluded package (rule 6). Otherwise the first
   alternative, in order, that has a candidate is taken. For one alternative a real package of
   that name wins over providers of it; among providers (none selected), the order is: named
   in the requests, then by Priority (required, important, standard, optional, extra), then
   alphabetical by name. A candidate that conflicts with what is selected is passed over.
4. **Versions and Provides.** All relations (``<<``, ``<=``, ``=``, ``>=``, ``>>``) in dpkg
   order. An unversioned dependency is satisfied by any Provides of its name; a versioned one
   only by a versioned Provides ``name (= v)`` whose ``v`` satisfies it.
5. **Multi-Arch**, as dpkg decides (lib/dpkg/depcon.c, ``deparchsatisfied``): an unqualified
   dependency is satisfied by a package of the depender's architecture (``all`` counts as the
   native architecture), or of any architecture when that package is ``Multi-Arch: foreign``;
   ``name:any`` by a package of any architecture that is ``Multi-Arch: allowed``;
   ``name:native`` and ``name:ARCH`` by that architecture. Two architectures of one name may
   only both be selected when both are ``Multi-Arch: same`` at the same version.
6. **Exclusions** (``exclude``, from the spec's ``contents.exclude``): packages that only serve
   maintainer scripts, which a distroless image never runs (dpkg, debconf, tar, perl-base). A
   dependency on an excluded name, or on a virtual name that only excluded packages provide,
   counts as satisfied; excluded packages are never chosen as providers, and are installed
   only when requested by name.
7. **Essential / Priority: required** packages are not added unless requested or depended on.
8. **Conflicts and Breaks** between selected packages (unqualified ones apply to every
   architecture; versioned ones match real packages and versioned Provides) fail, naming both.

A failure raises ``ResolutionError`` whose chain shows how the failing dependency was reached:
``python3 → python3.11 → libpython3.11-stdlib (= 3.11.2-6): no candidate in bookworm main
amd64``.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections import OrderedDict, defaultdict, deque
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from zerocve._gc import cycle_collector_paused
from zerocve.debian import version as dpkg_version
from zerocve.debian.catalog import Catalog, ParsedCatalog
from zerocve.debian.model import BinaryPackage
from zerocve.debian.relations import (
    Dependency,
    Relation,
    RelationSyntaxError,
    format_dependency,
    parse_dependencies,
    parse_provides,
)
from zerocve.errors import ResolutionError

PRIORITY_RANK = {"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}

_REQUEST_RE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.\-]*)(?::(?P<arch>[a-z0-9\-]+))?(?:=(?P<version>[^=\s]+))?$"
)

# (name, architecture group): "all" packages belong to the native group, so that a name moving
# between Architecture: all and any still has one candidate.
_Key = tuple[str, str]


@dataclass(frozen=True)
class Request:
    """One requested package: ``name[:arch][=version]``."""

    name: str
    arch: str | None
    version: str | None
    text: str


def parse_request(text: str) -> Request:
    match = _REQUEST_RE.match(text.strip())
    if match is None:
        raise ResolutionError(
            f"invalid package request {text!r} (expected name, name:arch or name=version)"
        )
    if match["version"] is not None:
        try:
            dpkg_version.parse(match["version"])
        except ValueError as e:
            raise ResolutionError(f"invalid package request {text!r}: {e}") from None
    return Request(match["name"], match["arch"], match["version"], text.strip())


def _version_ok(relation: Relation, version: str) -> bool:
    if relation.op is None or relation.version is None:
        return True
    return dpkg_version.satisfies(version, relation.op, relation.version)


class _Universe:
    """The packages considered, by name and by what they provide, looked up in the catalogs
    as a resolution reaches each name and kept for the next (the fleet resolves many specs
    over one universe): a full Debian index has 63,000 names, an image reaches a few
    hundred."""

    def __init__(self, catalogs: Sequence[Catalog], native: str, archs: set[str]) -> None:
        self.catalogs = tuple(catalogs)
        self.native = native
        self.archs = frozenset(archs)
        self.relations = _Relations()
        self.origins = sorted(set().union(*(catalog.origins for catalog in self.catalogs)))
        # Read by concurrent resolutions: an entry is set once (``setdefault``), so that
        # each name has one list of records, whose identities the resolver compares.
        self._by_name: dict[str, list[BinaryPackage]] = {}
        self._providers: dict[str, list[tuple[BinaryPackage, Relation]]] = {}

    def versions_of(self, name: str) -> list[BinaryPackage]:
        """The packages called ``name`` of the architectures considered, most preferred
        first."""
        found = self._by_name.get(name)
        if found is None:
            with cycle_collector_paused():
                found = self._by_name.setdefault(name, self._offered(name))
        return found

    def _offered(self, name: str) -> list[BinaryPackage]:
        same_name: list[BinaryPackage] = []
        for catalog in self.catalogs:
            for pkg in catalog.named(name):
                if pkg.architecture not in self.archs:
                    continue
                try:
                    dpkg_version.parse(pkg.version)
                except ValueError as e:
                    raise ResolutionError(f"{pkg.name} in {pkg.origin}: {e}") from None
                # The same version offered by several suites is one package: keep one
                # origin, chosen independently of input order.
                for i, kept in enumerate(same_name):
                    if (kept.architecture, kept.version) == (pkg.architecture, pkg.version):
                        if _origin_order(pkg) < _origin_order(kept):
                            same_name[i] = pkg
                        break
                else:
                    same_name.append(pkg)
        if len(same_name) > 1:
            same_name.sort(key=self._preference)
        return same_name

    def providers_of(self, name: str) -> list[tuple[BinaryPackage, Relation]]:
        """(package, its Provides relation) for every package of another name providing
        ``name``, most preferred first."""
        found = self._providers.get(name)
        if found is None:
            offers = [
                (pkg, provided)
                for provider in dict.fromkeys(
                    provider for catalog in self.catalogs
                    for provider in catalog.provider_names(name))
                if provider != name
                for pkg in self.versions_of(provider)
                for provided in self.relations.provides(pkg)
                if provided.name == name
            ]
            if len(offers) > 1:
                offers.sort(key=lambda offer: self._preference(offer[0]))
            found = self._providers.setdefault(name, offers)
        return found

    def every_name(self) -> list[str]:
        """Every real and virtual package name offered, for any architecture (real ones) or
        those considered (virtual ones): slow, for suggesting a name."""
        real = {name for catalog in self.catalogs for name in catalog.names()}
        virtual = {word for catalog in self.catalogs for word in catalog.provided_words()}
        return sorted(real | {word for word in virtual - real if self.providers_of(word)})

    def group(self, pkg: BinaryPackage) -> str:
        return self.native if pkg.architecture == "all" else pkg.architecture

    def key(self, pkg: BinaryPackage) -> _Key:
        return (pkg.name, self.group(pkg))

    def _preference(self, pkg: BinaryPackage) -> tuple[object, ...]:
        """Native group first, then by architecture; newest version first."""
        group = self.group(pkg)
        return (group != self.native, group, _Descending(pkg.version), pkg.architecture)

    def known(self, name: str) -> bool:
        return bool(self.versions_of(name) or self.providers_of(name))

    def arch_ok(self, relation: Relation, depender_group: str, pkg: BinaryPackage) -> bool:
        """dpkg's ``deparchsatisfied`` for a dependency of a package in ``depender_group``."""
        if relation.arch_qualifier is None and pkg.multi_arch == "foreign":
            return True
        if relation.arch_qualifier == "any":
            return pkg.multi_arch == "allowed"
        wanted = relation.arch_qualifier or depender_group
        if wanted in ("native", "all"):
            wanted = self.native
        return wanted == self.group(pkg)

    def conflict_arch_ok(self, relation: Relation, pkg: BinaryPackage) -> bool:
        """Conflicts and Breaks without a qualifier (or with ``:any``) hit every architecture."""
        if relation.arch_qualifier in (None, "any"):
            return True
        return self.arch_ok(relation, self.native, pkg)


class _Descending:
    """Sorts dpkg versions newest first."""

    __slots__ = ("version",)

    def __init__(self, version: str) -> None:
        self.version = version

    def __lt__(self, other: _Descending) -> bool:
        return dpkg_version.compare(self.version, other.version) > 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and (
            dpkg_version.compare(self.version, other.version) == 0
        )


def _origin_order(pkg: BinaryPackage) -> tuple[str, ...]:
    o = pkg.origin
    return (o.uri, o.suite, o.component, o.architecture, pkg.filename, pkg.sha256)


class _Relations:
    """Relationship fields parsed once per distinct text (a full index repeats many, and the
    conflict checks read the same packages' fields again for every candidate), for as long as
    the universe that holds this lives: nothing parsed outlives the indices it came from."""

    def __init__(self) -> None:
        self._dependencies: dict[str, tuple[Dependency, ...]] = {}
        self._provides: dict[str, tuple[Relation, ...]] = {}

    def field(self, pkg: BinaryPackage, name: str, text: str) -> tuple[Dependency, ...]:
        found = self._dependencies.get(text)
        if found is None:
            try:
                found = self._dependencies[text] = tuple(parse_dependencies(text))
            except RelationSyntaxError as e:
                raise ResolutionError(
                    f"{pkg.name} {pkg.version} ({pkg.origin}): bad {name}: {e}") from e
        return found

    def conflicts(self, pkg: BinaryPackage) -> Iterator[tuple[str, Relation]]:
        """("conflicts" or "breaks", relation) for every relation of the two fields, in
        order."""
        for field, text in (("Conflicts", pkg.conflicts), ("Breaks", pkg.breaks)):
            for dependency in self.field(pkg, field, text):
                for relation in dependency:
                    yield field.lower(), relation

    def provides(self, pkg: BinaryPackage) -> tuple[Relation, ...]:
        if not pkg.provides:
            return ()
        found = self._provides.get(pkg.provides)
        if found is None:
            try:
                found = self._provides[pkg.provides] = tuple(parse_provides(pkg.provides))
            except RelationSyntaxError as e:
                raise ResolutionError(
                    f"{pkg.name} {pkg.version} ({pkg.origin}): bad Provides: {e}") from e
        return found


class _Resolver:
    def __init__(self, universe: _Universe, requests: list[Request], exclude: set[str]) -> None:
        self.u = universe
        self.requests = requests
        self.requested_names = {r.name for r in requests}
        self.exclude = exclude - self.requested_names
        self.pins = {r.name: (r.arch, r.version) for r in requests if r.version is not None}
        self.selected: dict[_Key, BinaryPackage] = {}
        self.chains: dict[_Key, list[str]] = {}
        self.queue: deque[BinaryPackage] = deque()
        # Conflicts/Breaks of selected packages, by the name they target.
        self.conflicts_on: dict[str, list[tuple[BinaryPackage, str, Relation]]] = defaultdict(list)
        # Selected packages by their name and each name they provide, in selection order:
        # the only ones a Conflicts or Breaks on that name can hit.
        self.answering: dict[str, list[BinaryPackage]] = defaultdict(list)

    # -- candidates -------------------------------------------------------------------------

    def versions(self, name: str) -> list[BinaryPackage]:
        """Every version of ``name`` that may be chosen, most preferred first."""
        offered = self.u.versions_of(name)
        return offered if name not in self.pins else [p for p in offered if self.allowed(p)]

    def allowed(self, pkg: BinaryPackage) -> bool:
        """Whether a pin leaves ``pkg`` choosable."""
        pin = self.pins.get(pkg.name)
        if pin is None:
            return True
        pin_arch, pin_version = pin
        if pin_arch is not None and pin_arch != pkg.architecture:
            return True
        return pin_version is not None and dpkg_version.compare(pkg.version, pin_version) == 0

    def excluded(self, relation: Relation) -> bool:
        if relation.name in self.exclude:
            return True
        if self.u.versions_of(relation.name):
            return False
        offers = self.u.providers_of(relation.name)
        return bool(offers) and all(p.name in self.exclude for p, _ in offers)

    def provide_ok(self, relation: Relation, provided: Relation) -> bool:
        if relation.op is None:
            return True
        return provided.version is not None and _version_ok(relation, provided.version)

    def selected_real(self, relation: Relation, group: str) -> bool:
        """Whether a selected package of that very name satisfies ``relation``."""
        return any(
            self.selected.get(self.u.key(pkg)) is pkg and self.satisfies(relation, group, pkg)
            for pkg in self.u.versions_of(relation.name)
        )

    def satisfied_by_selection(self, relation: Relation, group: str) -> bool:
        return self.selected_real(relation, group) or any(
            self.selected.get(self.u.key(pkg)) is pkg
            and self.u.arch_ok(relation, group, pkg)
            and self.provide_ok(relation, provided)
            for pkg, provided in self.u.providers_of(relation.name)
        )

    def satisfies(self, relation: Relation, group: str, pkg: BinaryPackage) -> bool:
        return self.u.arch_ok(relation, group, pkg) and _version_ok(relation, pkg.version)

    def candidates(self, relation: Relation, group: str) -> list[BinaryPackage]:
        """Packages that would satisfy ``relation``, best first (real ones before providers)."""
        real = [p for p in self.versions(relation.name) if self.satisfies(relation, group, p)]
        # A name already selected in a group cannot change version there.
        real = [p for p in real if self.selected.get(self.u.key(p), p) is p]
        if real:
            return real
        best: dict[_Key, BinaryPackage] = {}
        for pkg, provided in self.u.providers_of(relation.name):
            key = self.u.key(pkg)
            if (
                pkg.name in self.exclude
                or key in best
                or self.selected.get(key, pkg) is not pkg
                or not self.allowed(pkg)
                or not self.u.arch_ok(relation, group, pkg)
                or not self.provide_ok(relation, provided)
            ):
                continue
            best[key] = pkg  # offers are sorted newest first
        return sorted(
            best.values(),
            key=lambda p: (
                p.name not in self.requested_names,
                PRIORITY_RANK.get(p.priority, len(PRIORITY_RANK)),
                p.name,
                self.u.group(p) != group,
                self.u.group(p),
            ),
        )

    # -- conflicts --------------------------------------------------------------------------

    def _hits(self, relation: Relation, target: BinaryPackage) -> bool:
        """Whether a Conflicts/Breaks ``relation`` applies to ``target``."""
        if target.name == relation.name:
            return self.u.conflict_arch_ok(relation, target) and _version_ok(
                relation, target.version
            )
        return any(
            provided.name == relation.name
            and self.u.conflict_arch_ok(relation, target)
            and self.provide_ok(relation, provided)
            for provided in self.u.relations.provides(target)
        )

    def clash(self, pkg: BinaryPackage) -> str | None:
        """Why ``pkg`` cannot join the selection, or None."""
        for other in self.answering.get(pkg.name, []):
            if other.name == pkg.name and self.u.key(other) != self.u.key(pkg):
                both_same = pkg.multi_arch == other.multi_arch == "same"
                if not both_same or dpkg_version.compare(pkg.version, other.version) != 0:
                    return (
                        f"{pkg.key} {pkg.version} cannot be installed beside "
                        f"{other.key} {other.version} (Multi-Arch: {pkg.multi_arch})"
                    )
        names = [pkg.name, *(r.name for r in self.u.relations.provides(pkg))]
        for name in names:
            for owner, field, relation in self.conflicts_on.get(name, []):
                if owner.name != pkg.name and self._hits(relation, pkg):
                    return (
                        f"{owner.name} {owner.version} {field} {relation}, which "
                        f"{pkg.name} {pkg.version} is"
                        + (" (via Provides)" if relation.name != pkg.name else "")
                    )
        for field, relation in self.u.relations.conflicts(pkg):
            for other in self.answering.get(relation.name, []):
                if other.name != pkg.name and self._hits(relation, other):
                    return (
                        f"{pkg.name} {pkg.version} {field} {relation}, which "
                        f"{other.name} {other.version} is"
                    )
        return None

    # -- the closure ------------------------------------------------------------------------

    def select(self, pkg: BinaryPackage, chain: list[str]) -> None:
        key = self.u.key(pkg)
        self.selected[key] = pkg
        self.chains[key] = chain
        for name in dict.fromkeys([pkg.name, *(r.name for r in self.u.relations.provides(pkg))]):
            self.answering[name].append(pkg)
        for field, relation in self.u.relations.conflicts(pkg):
            self.conflicts_on[relation.name].append((pkg, field, relation))
        self.queue.append(pkg)

    def satisfy(self, dependency: Dependency, group: str, chain: list[str], label: str) -> None:
        for relation in dependency:
            if self.excluded(relation) or self.satisfied_by_selection(relation, group):
                return
        candidates = [c for relation in dependency for c in self.candidates(relation, group)]
        self.satisfy_with(dependency, candidates, chain, label, group)

    def satisfy_with(
        self,
        dependency: Dependency,
        candidates: list[BinaryPackage],
        chain: list[str],
        label: str,
        group: str,
    ) -> None:
        """Select the first candidate that clashes with nothing selected, or fail."""
        rejected: list[str] = []
        for candidate in candidates:
            reason = self.clash(candidate)
            if reason is None:
                self.select(candidate, [*chain, label or candidate.name])
                return
            rejected.append(reason)
        where = ", ".join(self.u.origins) or "no package index"
        detail = "; ".join(rejected) or self.near_misses(dependency, group)
        raise ResolutionError(
            f"no candidate in {where}" + (f" ({detail})" if detail else ""),
            [*chain, label or format_dependency(dependency)],
        )

    def near_misses(self, dependency: Dependency, group: str) -> str:
        """What exists under the names wanted, to say why none of it fits."""
        seen: list[str] = []
        for relation in dependency:
            for pkg in self.u.versions_of(relation.name):
                key = self.u.key(pkg)
                chosen = self.selected.get(key)
                if chosen is not None:
                    via = " → ".join(self.chains[key])
                    seen.append(f"{chosen.name} {chosen.version} is selected, via {via}")
                elif not self.allowed(pkg):
                    continue
                elif not self.u.arch_ok(relation, group, pkg):
                    seen.append(
                        f"{pkg.key} {pkg.version} does not fit the architecture "
                        f"(Multi-Arch: {pkg.multi_arch})"
                    )
                else:
                    seen.append(f"{pkg.name} {pkg.version} is available")
            if relation.name in self.pins:
                seen.append(f"{relation.name} is pinned to {self.pins[relation.name][1]}")
        return "; ".join(dict.fromkeys(seen))

    def run(self) -> list[BinaryPackage]:
        for request in self.requests:
            self.check_request(request)
        for request in self.requests:
            relation = Relation(request.name, request.arch)
            # A request is a dependency of the image, which has the native architecture; a
            # real package named in it is installed even when something selected provides it.
            if not self.u.versions_of(request.name):
                self.satisfy((relation,), self.u.native, [], request.text)
            elif not self.selected_real(relation, self.u.native):
                candidates = self.candidates(relation, self.u.native)
                self.satisfy_with((relation,), candidates, [], request.text, self.u.native)
        while self.queue:
            pkg = self.queue.popleft()
            chain = self.chains[self.u.key(pkg)]
            group = self.u.group(pkg)
            for field, text in (("Pre-Depends", pkg.pre_depends), ("Depends", pkg.depends)):
                for dependency in self.u.relations.field(pkg, field, text):
                    self.satisfy(dependency, group, chain, "")
        return sorted(self.selected.values(), key=lambda p: (p.name, p.architecture))

    def check_request(self, request: Request) -> None:
        if not self.u.known(request.name):
            close = difflib.get_close_matches(
                request.name, self.u.every_name(), n=1
            )
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ResolutionError(f"unknown package {request.name!r}{hint}")
        if request.version is not None and not self.versions(request.name):
            available = sorted(
                {p.version for p in self.u.versions_of(request.name)},
                key=dpkg_version.sort_key,
            )
            where = ", ".join(self.u.origins)
            raise ResolutionError(
                f"version {request.version} not found in {where} (available: "
                + (", ".join(available) or "none, it is a virtual package")
                + ")",
                [request.text],
            )


class _Universes:
    """The last few universes built, by the very catalogs they were built over (held here,
    so their identities stay theirs, until ``forget``): the fleet resolves many specs
    against the same indices, which reach many of the same names."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[Sequence[Catalog], _Universe]] = OrderedDict()
        self._mutex = threading.Lock()

    def get(
        self, sources: Sequence[Catalog], native: str, archs: set[str]) -> _Universe:
        key = (tuple(map(id, sources)), native, frozenset(archs))
        with self._mutex:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key][1]
        universe = _Universe(sources, native, archs)
        with self._mutex:
            self._kept[key] = (sources, universe)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return universe

    def forget(self, source: Catalog) -> None:
        """Let go of every universe built over ``source`` (whose holder let go of it)."""
        with self._mutex:
            for key in [key for key, (sources, _) in self._kept.items()
                        if any(kept is source for kept in sources)]:
                del self._kept[key]
            if not self._kept:
                # The comparisons cached while universes were built and used are of their
                # versions; kept, they would pin tens of MB of freed index memory.
                dpkg_version.compare.cache_clear()


_UNIVERSES = _Universes(size=4)


def forget_universes(source: Catalog) -> None:
    """Let go of the universes ``resolve_in`` built over the catalog ``source``: called when
    the index holding them is freed (``zerocve.debian.repo``), so a universe, which holds its
    sources, lives exactly as long as something else holds them."""
    _UNIVERSES.forget(source)


def _request_archs(parsed: list[Request], arch: str) -> set[str]:
    return {arch, "all"} | {
        r.arch for r in parsed if r.arch is not None and r.arch not in ("any", "native")
    }


def resolve(
    requests: list[str],
    packages: Iterable[BinaryPackage],
    arch: str,
    *,
    exclude: Iterable[str] = (),
) -> list[BinaryPackage]:
    """The closure of ``requests`` for architecture ``arch``, sorted by name then architecture.

    See the module docstring for the rules. Raises ``ResolutionError`` (with the chain that led
    to the failure) when a request is unknown or a dependency cannot be satisfied.
    """
    parsed = [parse_request(r) for r in requests]
    universe = _Universe([ParsedCatalog(packages)], arch, _request_archs(parsed, arch))
    return _Resolver(universe, parsed, set(exclude)).run()


def resolve_in(
    requests: list[str],
    indices: Sequence[Catalog],
    arch: str,
    *,
    exclude: Iterable[str] = (),
) -> list[BinaryPackage]:
    """``resolve`` over the packages of ``indices``, reusing the universe of an earlier call
    given the same catalogs (the same objects) for the same architectures."""
    parsed = [parse_request(r) for r in requests]
    universe = _UNIVERSES.get(tuple(indices), arch, _request_archs(parsed, arch))
    return _Resolver(universe, parsed, set(exclude)).run()


__all__ = ["PRIORITY_RANK", "Request", "forget_universes", "parse_request", "resolve", "resolve_in"]
