"""apt's login files (apt_auth.conf(5)): credentials for a repository kept out of the
world-readable sources, in ``auth.conf`` and then ``auth.conf.d/*.conf`` below the apt
directory, the order apt's acquire methods open them in.

The format is netrc-like: ``machine [scheme://]host[:port][/path] login NAME password
SECRET``, tokens separated by any white space, unknown tokens ignored. An entry applies to a
URL of its host; with a port, of that port only; with a path, to request paths that start
with it (as strings: ``/deb`` covers ``/debian``); with no scheme, to https only, so a
password is never sent in clear text unless the file says ``http://``. The first entry that
applies wins; user info in the URL itself wins over every entry (both as apt).

Parsing is pure; ``read_apt_logins`` reads the files. A file that cannot be read is
skipped (apt ignores it too: most hosts keep these files readable by root alone), and named,
so that a refusal of the server can say where its credentials could not be read.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from zerocve.spec import RepositorySpec


@dataclass(frozen=True)
class AptLogin:
    """One ``machine`` entry."""

    scheme: str  # "http" or "https"; "" when none was written: https only
    host: str  # lower case
    port: int | None  # None: any port
    path: str  # a prefix of the request path; "" for any
    login: str
    password: str = field(repr=False)

    def applies(self, scheme: str, host: str, port: int, path: str) -> bool:
        return ((self.scheme or "https") == scheme and self.host == host.lower()
                and self.port in (None, port) and path.startswith(self.path))


@dataclass(frozen=True)
class AptLogins:
    """The entries of every login file, in order, and the files that could not be read."""

    entries: tuple[AptLogin, ...] = ()
    unreadable: tuple[Path, ...] = ()

    def authorization(self, scheme: str, host: str, port: int, path: str) -> str:
        """The ``Authorization`` header value for a request, or "" when no entry applies."""
        for entry in self.entries:
            if entry.applies(scheme, host, port, path):
                token = b64encode(f"{entry.login}:{entry.password}".encode()).decode("ascii")
                return f"Basic {token}"
        return ""

    def after(self, first: Iterable[AptLogin]) -> AptLogins:
        """These logins with ``first`` ahead of them (they win)."""
        return AptLogins((*first, *self.entries), self.unreadable)


NO_LOGINS = AptLogins()
_DEFAULT_PORTS = {"http": 80, "https": 443}


def logins_of(repositories: Iterable[RepositorySpec]) -> tuple[AptLogin, ...]:
    """The user info split off the repositories' URIs (``RepositorySpec.user_info``) as login
    entries for exactly those repositories: their scheme, host, port and path (``/debian/``,
    so the entry does not cover ``/debian-security`` beside it). apt lets a URL's user info
    win over its login files; put these first (``AptLogins.after``)."""
    entries: list[AptLogin] = []
    for repository in repositories:
        if repository.user_info is None:
            continue
        parts = urlsplit(repository.uri)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            continue  # a file:// repository is read without credentials
        login, _, password = repository.user_info.partition(":")
        entries.append(AptLogin(scheme, parts.hostname, parts.port or _DEFAULT_PORTS[scheme],
                                parts.path.rstrip("/") + "/", unquote(login), unquote(password)))
    return tuple(entries)


def _machine(value: str) -> tuple[str, str, int | None, str] | None:
    """``[scheme://]host[:port][/path]`` as (scheme, host, port, path); None if invalid."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    authority, slash, path = rest.partition("/")
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:
        return None
    if scheme.lower() not in ("", "http", "https") or not parts.hostname:
        return None
    return scheme.lower(), parts.hostname, port, slash + path


def parse_auth_conf(text: str) -> tuple[AptLogin, ...]:
    """The entries of one login file; an entry with an invalid machine, or with no login,
    is left out (it could never apply)."""
    tokens = text.split()
    entries: list[AptLogin] = []
    current: dict[str, str] = {}

    def finish() -> None:
        where = _machine(current.get("machine", ""))
        if where is not None and "login" in current:
            entries.append(AptLogin(*where, current["login"], current.get("password", "")))

    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("machine", "login", "password") and i + 1 < len(tokens):
            if token == "machine":
                finish()
                current = {}
            current[token] = tokens[i + 1]
            i += 2
        else:
            i += 1
    finish()
    return tuple(entries)


def read_apt_logins(apt_dir: Path) -> AptLogins:
    """The login files below ``apt_dir`` (``auth.conf``, then ``auth.conf.d/*.conf`` sorted)."""
    parts = apt_dir / "auth.conf.d"
    files = [apt_dir / "auth.conf"]
    entries: list[AptLogin] = []
    unreadable: list[Path] = []
    try:
        files += sorted(p for p in parts.iterdir() if p.name.endswith(".conf"))
    except FileNotFoundError:
        pass
    except OSError:
        unreadable.append(parts)
    for path in files:
        try:
            entries.extend(parse_auth_conf(path.read_text(encoding="utf-8", errors="replace")))
        except FileNotFoundError:
            pass
        except OSError:
            unreadable.append(path)
    return AptLogins(tuple(entries), tuple(unreadable))


__all__ = ["NO_LOGINS", "AptLogin", "AptLogins", "logins_of", "parse_auth_conf", "read_apt_logins"]
