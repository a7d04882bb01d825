"""An aiosmtpd server that accepts only XOAUTH2 and OAUTHBEARER logins, each checked
against the test OAuth2 provider's introspection endpoint (as Dovecot does)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.servers.dovecot import free_port


@dataclass
class Delivered:
    user: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


def _bearer(decoded: str) -> tuple[str, str]:
    """(user, token) from an XOAUTH2 or OAUTHBEARER initial response."""
    user, token = "", ""
    for part in decoded.split("\x01"):
        if part.startswith("user="):
            user = part[5:]
        elif part.startswith("n,a="):
            user = part[4:].split(",", 1)[0].replace("=2C", ",").replace("=3D", "=")
        elif part.startswith("auth=Bearer "):
            token = part[12:]
    return user, token


class _Handler:
    def __init__(self, server: OAuthSMTPServer) -> None:
        self.owner = server

    def _check(self, initial: str) -> AuthResult:
        try:
            user, token = _bearer(base64.b64decode(initial).decode())
        except ValueError:
            return AuthResult(success=False, handled=False)
        request = urllib.request.Request(  # noqa: S310 - loopback http
            self.owner.introspection_url, data=f"token={token}".encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
        ok = bool(answer.get("active")) and answer.get("username") == user.partition("@")[0]
        with self.owner.lock:
            self.owner.auth_attempts.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=user)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._auth(server, args)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._auth(server, args)

    async def _auth(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        return self._check(args[1])

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.owner.lock:
            self.owner.delivered.append(Delivered(
                str(session.auth_data), envelope.mail_from or "", tuple(envelope.rcpt_tos),
                envelope.original_content or b""))
        return "250 Message accepted for delivery"


@dataclass
class OAuthSMTPServer:
    introspection_url: str
    host: str = "127.0.0.1"
    port: int = 0
    exclude: tuple[str, ...] = ()  # mechanisms not to offer, e.g. ("OAUTHBEARER",)
    delivered: list[Delivered] = field(default_factory=list)
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> None:
        self.port = self.port or free_port()
        # Plain text on loopback: the login mechanism, not TLS, is what is tested here.
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, auth_required=True,
            auth_require_tls=False, auth_exclude_mechanism=["LOGIN", "PLAIN", *self.exclude],
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self.lock:
            self.delivered.clear()
            self.auth_attempts.clear()
