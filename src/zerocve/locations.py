"""Where zerocve keeps its cache, advisory DB and state, from the environment alone.

The one copy of that resolution: ``Settings.from_env`` builds on it, and so does the build
receipt's front door (``zerocve.cli._front``), which must find the cache and the seal's key
before anything heavier than the standard library is imported.

    ZEROCVE_CACHE_DIR   default: $XDG_CACHE_HOME/zerocve, ~/.cache/zerocve
    ZEROCVE_DB          default: <cache dir>/db/advisories.sqlite
    ZEROCVE_STATE_DIR   default: $XDG_STATE_HOME/zerocve, ~/.local/state/zerocve
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

APP = "zerocve"


def home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def expand(value: str) -> Path:
    """A path as the user wrote it in a variable (``~`` expanded)."""
    return Path(value).expanduser()


def _xdg(environ: Mapping[str, str], variable: str, default: str) -> Path:
    """``$VARIABLE/zerocve`` (the XDG base directories; a relative value is ignored, as the
    specification says), else ``~/DEFAULT/zerocve``."""
    value = environ.get(variable, "")
    base = Path(value) if value and Path(value).is_absolute() else home(environ) / default
    return base / APP


def cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("ZEROCVE_CACHE_DIR"):
        return expand(environ["ZEROCVE_CACHE_DIR"])
    return _xdg(environ, "XDG_CACHE_HOME", ".cache")


def db_path(environ: Mapping[str, str], cache: Path) -> Path:
    """The advisory DB: ``$ZEROCVE_DB``, else its home in ``cache``."""
    if environ.get("ZEROCVE_DB"):
        return expand(environ["ZEROCVE_DB"])
    return cache / "db" / "advisories.sqlite"


def state_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("ZEROCVE_STATE_DIR"):
        return expand(environ["ZEROCVE_STATE_DIR"])
    return _xdg(environ, "XDG_STATE_HOME", ".local/state")


__all__ = ["APP", "cache_dir", "db_path", "expand", "home", "state_dir"]
