"""Registry credentials and the distribution token flow.

Credentials come from the same files docker, podman and skopeo read, first match wins:

1. ``$REGISTRY_AUTH_FILE``
2. ``$XDG_RUNTIME_DIR/containers/auth.json`` (where ``podman login`` writes)
3. ``~/.config/containers/auth.json``
4. ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``

Only inline ``auths.<host>.auth`` entries (base64 ``user:password``) are used. Credential
helpers (``credHelpers``, ``credsStore``) run external programs and are not supported: the
lookup records them so that an authentication failure can say why no credentials were sent.

``TokenAuth`` implements the challenge/response flows of the distribution spec: on a 401 with
``WWW-Authenticate: Basic`` it sends the credentials; with ``Bearer realm=...,service=...,
scope=...`` it fetches a token from the realm (sending the credentials, if any, as basic
auth), caches it per scope and lets the caller retry.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from zerocve.errors import RegistryError
from zerocve.oci.reference import DOCKER_HUB, DOCKER_HUB_API
from zerocve.safe_load import LoadError, load_json


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class CredentialLookup:
    """What the auth files say about one registry host."""

    credentials: Credentials | None = None
    source: Path | None = None
    """The file the credentials (or the unsupported helper) came from."""
    unsupported: str | None = None
    """Why no credentials could be used although a file mentions the host (a helper)."""


def _host_keys(host: str) -> list[str]:
    """The ``auths`` keys that may name ``host``; docker writes Hub credentials under its
    legacy v1 URL, and some tools store ``https://host`` URLs."""
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"https://{host}/v1/"]
    if host in (DOCKER_HUB, DOCKER_HUB_API, "index.docker.io"):
        keys = ["https://index.docker.io/v1/", DOCKER_HUB, "index.docker.io", DOCKER_HUB_API]
    return keys


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RegistryError(f"{path}: cannot read auth file: {e.strerror}") from e
    try:
        data = load_json(text)
    except LoadError as e:
        raise RegistryError(e.located(str(path))) from e
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a JSON object")
    return data


def _decode_auth(path: Path, key: str, value: object) -> Credentials:
    where = f"{path}: auths.{key}.auth"
    if not isinstance(value, str):
        raise RegistryError(f"{where}: expected a base64 string")
    try:
        raw = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise RegistryError(f"{where}: not base64 of user:password") from e
    user, sep, password = raw.partition(":")
    if not sep or not user:
        raise RegistryError(f"{where}: decodes to no user:password pair")
    return Credentials(user, password)


def lookup_credentials(host: str, files: Sequence[Path]) -> CredentialLookup:
    """Credentials for ``host`` (``HOST[:PORT]``) from the first auth file that names it
    (``files`` in order of precedence: ``Settings.registry_auth``)."""
    keys = _host_keys(host)
    for path in files:
        data = _read_json(path)
        if data is None:
            continue
        auths = data.get("auths")
        if isinstance(auths, dict):
            for key in keys:
                entry = auths.get(key)
                if isinstance(entry, dict) and entry.get("auth"):
                    return CredentialLookup(_decode_auth(path, key, entry["auth"]), path)
        helpers = data.get("credHelpers")
        helper = helpers.get(host) if isinstance(helpers, dict) else None
        store = data.get("credsStore")
        if helper or store:
            name = f"credHelpers.{host} = {helper!r}" if helper else f"credsStore = {store!r}"
            return CredentialLookup(
                source=path,
                unsupported=(
                    f"{path}: {name} is a credential helper, which zerocve does not run; "
                    f"add auths.{host}.auth (base64 user:password), e.g. with "
                    f"`podman login --authfile FILE {host}` and REGISTRY_AUTH_FILE=FILE"
                ),
            )
    return CredentialLookup()


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header."""

    scheme: str
    """Lowercase: ``basic`` or ``bearer`` (others are kept but not answered)."""
    params: dict[str, str]


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)')


def parse_challenge(header: str) -> Challenge:
    """Parse one challenge, e.g. ``Bearer realm="https://a/token",service="reg",scope="x"``."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match:
            break  # tolerate trailing junk: the params already read are still usable
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
        pos = match.end()
    return Challenge(scheme.lower(), params)


class TokenAuth:
    """Answers registry challenges for one host and caches bearer tokens per scope.

    The client calls ``header(scope)`` before each request and ``handle(response, scope)``
    on a 401; ``handle`` returns True when a retry may now succeed. It raises
    ``RegistryError`` when the token server refuses, and lets ``httpx.TransportError`` and
    ``httpx.HTTPStatusError`` (5xx, 429) through for the caller to retry.
    """

    def __init__(self, host: str, lookup: CredentialLookup, http: httpx.Client) -> None:
        self.host = host
        self.lookup = lookup
        self._http = http
        self._scheme: str | None = None
        self._tokens: dict[str, str] = {}

    @property
    def credentials(self) -> Credentials | None:
        return self.lookup.credentials

    def header(self, scope: str) -> str | None:
        """The Authorization header to send for a request needing ``scope``, if known."""
        if self._scheme == "bearer":
            token = self._tokens.get(scope)
            return f"Bearer {token}" if token else None
        if self._scheme == "basic" and self.credentials:
            return self.credentials.basic_header()
        return None

    def handle(self, response: httpx.Response, scope: str) -> bool:
        """React to a 401; True when the request should be sent again."""
        header = response.headers.get("WWW-Authenticate", "")
        challenge = parse_challenge(header) if header else Challenge("", {})
        if challenge.scheme == "basic":
            refused = self._scheme == "basic"  # the credentials were sent and refused
            self._scheme = "basic"
            return self.credentials is not None and not refused
        if challenge.scheme == "bearer":
            # A cached token that was refused has expired or lacks the scope: the client retries
            # a request once, so fetching anew here cannot loop.
            self._scheme = "bearer"
            self._tokens[scope] = self.fetch_token(challenge, scope)
            return True
        return False

    def fetch_token(self, challenge: Challenge, scope: str) -> str:
        """GET a token from the challenge's realm for the challenge's scope (else ours)."""
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError(f"{self.host}: Bearer challenge without a realm: {challenge}")
        scopes = (challenge.params.get("scope") or scope).split()
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params.extend(("scope", s) for s in scopes)
        headers = {}
        if self.credentials:
            headers["Authorization"] = self.credentials.basic_header()
            params.append(("account", self.credentials.username))
        # Connection errors and 5xx/429 propagate as httpx errors: the registry client retries
        # them like its own.
        response = self._http.get(realm, params=params, headers=headers)
        if response.status_code >= 500 or response.status_code == 429:
            response.raise_for_status()
        if response.status_code in (401, 403):
            who = f"user {self.credentials.username!r}" if self.credentials else "anonymous access"
            raise RegistryError(
                f"{self.host}: token server {realm} refused {who}"
                + f" for {' '.join(scopes)} (HTTP {response.status_code})"
                + (f"; {self.lookup.unsupported}" if self.lookup.unsupported else "")
            )
        if response.status_code != 200:
            raise RegistryError(
                f"{self.host}: token server {realm} answered HTTP {response.status_code}"
            )
        try:
            body = load_json(response.content)
        except LoadError as e:
            raise RegistryError(f"{self.host}: token server {realm} sent no JSON") from e
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: token server {realm} sent no token")
        return token
