"""A distribution token server on 127.0.0.1, for docker-registry's ``auth: token`` mode.

It issues RS256 JWTs the way Docker Hub's auth server does: the header carries the signing
certificate (``x5c``), which docker-registry checks against the ``rootcertbundle`` it was
configured with; the claims grant the requested actions (``access``) to the user named by
HTTP basic credentials, or ``pull`` only to anonymous callers. The key and the self-signed
certificate are made with ``openssl``, which also signs each token.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support.loopback import LoopbackServer

SERVICE = "zerocve-test-registry"
ISSUER = "zerocve-test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    def __init__(self, root: Path, users: dict[str, str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.key = root / "token.key"
        self.cert = root / "token.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=zerocve-test-token", "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        self._x5c = base64.b64encode(der).decode("ascii")
        self.users = users
        self.requests: list[tuple[str | None, list[str]]] = []
        """Each token request: (user or None, requested scopes)."""
        self.fail_next = 0
        """How many of the next requests to answer 503."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                scopes = query.get("scope", [])
                user = server._user(self.headers.get("Authorization"))
                server.requests.append((user, scopes))
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if user == "":  # credentials sent but wrong
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = server.issue(user, scopes, query.get("service", [""])[0])
                payload = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._loopback = LoopbackServer(Handler)
        self.realm = f"http://{self._loopback.host}/token"

    def auth_yaml(self) -> str:
        """The ``auth:`` section of a docker-registry config trusting this server."""
        return (
            "auth:\n  token:\n"
            f"    realm: {self.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {self.cert}\n"
        )

    def _user(self, authorization: str | None) -> str | None:
        """The authenticated user; None when anonymous, "" when the credentials are wrong."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        return user if self.users.get(user) == password else ""

    def issue(self, user: str | None, scopes: list[str], service: str) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": user or "", "aud": service, "exp": now + 300, "nbf": now - 10,
            "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }  # fmt: skip
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self._loopback.close()
