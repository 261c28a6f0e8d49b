"""``Settings``: everything zerocve takes from its surroundings, in one frozen value.

``Settings.from_env`` is the only place the environment is read; the library below receives
a ``Settings`` (or the plain values in it) and never looks at ``os.environ`` itself, so the
rebuild loop can run many images in one process with settings of its own, and a test can
inject a clock or an HTTP transport without patching anything.

    ZEROCVE_CACHE_DIR   cache of downloads, the build cache and the DB's default home
                        (default: $XDG_CACHE_HOME/zerocve, ~/.cache/zerocve)
    ZEROCVE_DB          the advisory DB (default: <cache dir>/db/advisories.sqlite)
    ZEROCVE_STATE_DIR   the fleet store's default home, and the key sealing the caches'
                        derived entries (``zerocve.cache_seal``)
                        (default: $XDG_STATE_HOME/zerocve, ~/.local/state/zerocve)
    ZEROCVE_APT_DIR     the host's apt configuration, read for a spec that names no
                        repository (default: /etc/apt)
    SOURCE_DATE_EPOCH   the date every timestamp of a build and its reports is clamped to;
                        unset or empty: the lock's date (builds) or now (reports)
    REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG, HOME   where registry credentials are
    http_proxy, https_proxy, all_proxy, no_proxy (or upper case)   the apt repository
                        fetcher's proxies (``environment_proxies``)
    ZEROCVE_DEB_CACHE_MAX, ZEROCVE_BUILD_CACHE_MAX, ZEROCVE_LAYER_INDEX_CACHE_MAX,
    ZEROCVE_INDEX_CACHE_MAX   the caches' bounds (``CacheBounds``), in bytes or with a K, M or
                        G suffix (``2G``); unset: each cache's default
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zerocve import locations
from zerocve.cache_seal import CacheSeal, load_seal
from zerocve.errors import UsageError
from zerocve.progress import NULL_REPORTER, Reporter

if TYPE_CHECKING:  # httpx costs a tenth of a second that offline commands need not pay
    import httpx

_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z: the last second a timestamp can name


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_epoch(text: str, what: str = "SOURCE_DATE_EPOCH") -> int | None:
    """``SOURCE_DATE_EPOCH`` as the reproducible-builds specification defines it: a decimal
    number of seconds since 1970; empty means unset; anything else is a ``UsageError``
    (a build must not silently fall back to another date)."""
    stripped = text.strip()
    if not stripped:
        return None
    if not stripped.isdigit() or int(stripped) > _MAX_EPOCH:
        raise UsageError(
            f"{what}={text!r}: not a number of seconds since 1970-01-01 (e.g. 1700000000)"
        )
    return int(stripped)


_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str, what: str) -> int | None:
    """A size in bytes, optionally with a K, M or G suffix (``2G``, ``500M``); empty means
    unset; anything else is a ``UsageError`` naming ``what``."""
    stripped = text.strip().upper()
    if not stripped:
        return None
    unit = _SIZE_UNITS.get(stripped[-1], 1)
    number = stripped[:-1] if stripped[-1] in _SIZE_UNITS else stripped
    if not number.isdigit():
        raise UsageError(f"{what}={text!r}: expected a size in bytes, e.g. 2G or 500M")
    return int(number) * unit


@dataclass(frozen=True)
class CacheBounds:
    """The most bytes each cache below the cache dir keeps (the least recently used entries
    go first); None leaves a cache at its own default."""

    deb: int | None = None  # downloaded .debs (debian/cache.py: 2 GiB)
    build: int | None = None  # layers and images of recent builds (assemble/cache.py: 2 GiB)
    layer_index: int | None = None  # what scans read from each layer (512 MiB)
    index: int | None = None  # parsed Packages indices (debian/index_cache.py: 512 MiB)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CacheBounds:
        """``ZEROCVE_<FIELD>_CACHE_MAX`` for each field."""
        values = {}
        for bound in fields(cls):
            variable = f"ZEROCVE_{bound.name.upper()}_CACHE_MAX"
            values[bound.name] = parse_size(environ.get(variable, ""), variable)
        return cls(**values)


def environment_proxies(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``(scheme, proxy)`` pairs (``no`` for the bypass list) as ``urllib.request``'s
    ``getproxies_environment`` reads them, and httpx's ``trust_env`` through it: any case of
    ``*_proxy``, the lower-case name winning and an empty one unsetting; ``HTTP_PROXY`` is
    ignored under CGI (``REQUEST_METHOD`` set), where a client could have set it. Not
    urllib's own: it reads ``os.environ`` rather than the environment given here, and
    importing ``urllib.request`` would cost every command, scans included, some 0.05 s
    (``tests/debian/test_http.py::test_the_environments_proxies_are_urllibs`` holds the two
    equal)."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return tuple(sorted(proxies.items()))


def registry_auth_files(environ: Mapping[str, str]) -> tuple[Path, ...]:
    """The registry auth files to read, in podman's order of precedence (existing or not)."""
    home = locations.home(environ)
    files: list[Path] = []
    if environ.get("REGISTRY_AUTH_FILE"):
        files.append(locations.expand(environ["REGISTRY_AUTH_FILE"]))
    if environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    files.append(home / ".config" / "containers" / "auth.json")
    docker = (locations.expand(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG")
              else home / ".docker")
    files.append(docker / "config.json")
    return tuple(files)


@dataclass(frozen=True)
class Settings:
    """One value for every call of ``zerocve.api`` (see the module docstring for defaults)."""

    cache_dir: Path
    db_path: Path
    state_dir: Path
    source_date_epoch: int | None = None
    clock: Callable[[], datetime] = utc_now
    # Injected into the registry and feed clients (httpx); apt repositories use http.client.
    transport: httpx.BaseTransport | None = None
    ignore_valid_until: bool = False
    reporter: Reporter = NULL_REPORTER
    registry_auth: tuple[Path, ...] = field(default=())
    cache_bounds: CacheBounds = CacheBounds()
    apt_dir: Path = Path("/etc/apt")  # the host's apt sources and trusted keys
    proxies: tuple[tuple[str, str], ...] = ()  # the apt repository fetcher's (scheme, proxy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
        """Settings from ``environ``; ``overrides`` (field names) win over it. A DB path
        follows an overridden cache dir unless it is given (or set) as well."""
        cache_dir = Path(overrides.pop("cache_dir", None) or locations.cache_dir(environ))
        db_path = overrides.pop("db_path", None) or locations.db_path(environ, cache_dir)
        state_dir = overrides.pop("state_dir", None) or locations.state_dir(environ)
        if "source_date_epoch" not in overrides:
            overrides["source_date_epoch"] = parse_epoch(environ.get("SOURCE_DATE_EPOCH", ""))
        overrides.setdefault("registry_auth", registry_auth_files(environ))
        if "apt_dir" not in overrides and environ.get("ZEROCVE_APT_DIR"):
            overrides["apt_dir"] = Path(environ["ZEROCVE_APT_DIR"])
        if "cache_bounds" not in overrides:
            overrides["cache_bounds"] = CacheBounds.from_env(environ)
        overrides.setdefault("proxies", environment_proxies(environ))
        return cls(
            cache_dir=Path(cache_dir), db_path=Path(db_path), state_dir=Path(state_dir),
            **overrides,
        )

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (e.g. another reporter for one call)."""
        return replace(self, **changes)

    def now(self) -> datetime:
        """``source_date_epoch`` when set (reproducible reports), else the clock."""
        if self.source_date_epoch is not None:
            return datetime.fromtimestamp(self.source_date_epoch, UTC)
        return self.clock()

    @property
    def build_cache_dir(self) -> Path:
        return self.cache_dir / "build"

    @cached_property
    def cache_seal(self) -> CacheSeal | None:
        """The key that seals what the caches derive (``zerocve.cache_seal``); None: keep
        nothing derived."""
        return load_seal(self.state_dir)


__all__ = ["CacheBounds", "Settings", "environment_proxies", "parse_epoch", "parse_size",
           "registry_auth_files", "utc_now"]
