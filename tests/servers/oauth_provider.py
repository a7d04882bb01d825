"""A small OAuth2 provider for tests: a real HTTP server on loopback.

Endpoints (form-encoded POSTs, JSON answers, like Google's and Microsoft's):
- GET  /authorize  approves at once (the "person" is the login_hint's local part) and
  redirects back with a code bound to the client, redirect URI and PKCE challenge;
- POST /token      authorization_code (checks the S256 code_verifier) and refresh_token;
- POST /revoke     RFC 7009; revoking a refresh token revokes its access tokens;
- POST /introspect RFC 7662, which Dovecot's oauth2 passdb and the SMTP fixture call.

Tests steer it with expire_access_tokens(), revoke_all() and read `log` (what was asked,
never the tokens themselves).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "webmail-test-client"
CLIENT_SECRET = "webmail-test-secret"  # noqa: S105 - a test fixture's own secret


@dataclass
class _Grant:
    user: str
    refresh_token: str
    revoked: bool = False


@dataclass
class OAuthProvider:
    host: str = "127.0.0.1"
    access_lifetime: int = 3600
    port: int = 0
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)  # by refresh token
    access: dict[str, tuple[_Grant, float]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        provider = self

        class Handler(_Handler):
            owner = provider

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- steering ----------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.grants.clear()
            self.access.clear()
            self.log.clear()
        self.access_lifetime = 3600

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access = {t: (g, 0.0) for t, (g, _) in self.access.items()}

    def revoke_all(self) -> None:
        with self.lock:
            for grant in self.grants.values():
                grant.revoked = True

    def count(self, entry: str) -> int:
        with self.lock:
            return self.log.count(entry)

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token handed out (to look for them in logs)."""
        with self.lock:
            return [*self.access, *self.grants]

    # -- the protocol ------------------------------------------------------------------
    def authorize(self, query: dict[str, str]) -> str:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            raise ValueError("bad authorization request")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise ValueError("PKCE S256 required")
        code = secrets.token_urlsafe(24)
        user = query.get("login_hint", "").partition("@")[0]
        with self.lock:
            self.codes[code] = {"user": user, "redirect_uri": query["redirect_uri"],
                                "challenge": query["code_challenge"]}
            self.log.append("authorize")
        params = {"code": code, "state": query.get("state", "")}
        return query["redirect_uri"] + "?" + urlencode(params)

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        grant_type = form.get("grant_type")
        with self.lock:
            self.log.append(f"token:{grant_type}")
            if grant_type == "authorization_code":
                pending = self.codes.pop(form.get("code", ""), None)
                if pending is None or pending["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if not secrets.compare_digest(challenge, pending["challenge"]):
                    self.log.append("pkce-mismatch")
                    return 400, {"error": "invalid_grant",
                                 "error_description": "PKCE verification failed"}
                grant = _Grant(pending["user"], secrets.token_urlsafe(32))
                self.grants[grant.refresh_token] = grant
                return 200, self._issue(grant, with_refresh=True)
            if grant_type == "refresh_token":
                grant = self.grants.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked:
                    return 400, {"error": "invalid_grant"}
                return 200, self._issue(grant, with_refresh=False)
        return 400, {"error": "unsupported_grant_type"}

    def _issue(self, grant: _Grant, *, with_refresh: bool) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        self.access[access] = (grant, time.time() + self.access_lifetime)
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                  "expires_in": self.access_lifetime}
        if with_refresh:
            answer["refresh_token"] = grant.refresh_token
        return answer

    def revoke(self, form: dict[str, str]) -> None:
        token = form.get("token", "")
        with self.lock:
            self.log.append("revoke")
            if token in self.grants:
                self.grants[token].revoked = True
            self.access.pop(token, None)

    def introspect(self, token: str) -> dict[str, Any]:
        with self.lock:
            self.log.append("introspect")
            found = self.access.get(token)
            if found is None or found[0].revoked or found[1] < time.time():
                return {"active": False}
            grant, expires = found
            return {"active": True, "username": grant.user, "exp": int(expires),
                    "client_id": CLIENT_ID}


class _Handler(BaseHTTPRequestHandler):
    owner: OAuthProvider

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # quiet; and request lines could carry codes

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):  # client_secret_basic
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            form.setdefault("client_id", client_id)
            form.setdefault("client_secret", secret)
        return form

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        url = urlparse(self.path)
        if url.path != "/authorize":
            self._json(404, {"error": "not_found"})
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            location = self.owner.authorize(query)
        except ValueError as exc:
            self._json(400, {"error": "invalid_request", "error_description": str(exc)})
            return
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        path = urlparse(self.path).path
        form = self._form()
        if path == "/token":
            self._json(*self.owner.token(form))
        elif path == "/revoke":
            self.owner.revoke(form)
            self._json(200, {})
        elif path == "/introspect":
            self._json(200, self.owner.introspect(form.get("token", "")))
        else:
            self._json(404, {"error": "not_found"})
