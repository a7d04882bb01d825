"""A real SMTP server for tests (aiosmtpd 1.4.6), three listeners on free ports:

- `starttls`: plain connect, STARTTLS required before anything else, AUTH required;
- `tls`: implicit TLS (aiosmtpd's Controller `ssl_context`), AUTH required;
- `plain`: no TLS at all, AUTH required but allowed in clear (for "security: none").

AUTH PLAIN and LOGIN against known users; every accepted transaction is recorded
(thread-safe). `fail_next(code, message, at="rcpt"|"data", count=N)` makes the server
answer the next N commands at that stage (count=None: until `reset()`) with that reply.
"""

from __future__ import annotations

import logging
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.dovecot import free_port
from tests.servers.tls import TLSFiles

SMTP_USERS: dict[str, str] = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "charlie": "charlie-pw",
}


@dataclass(frozen=True)
class Accepted:
    """One accepted transaction."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    user: str | None  # authenticated user
    listener: str  # "starttls", "tls" or "plain"
    smtputf8: bool
    mail_options: tuple[str, ...]


@dataclass
class _Failure:
    at: str
    reply: str
    remaining: int | None


@dataclass
class _Recorder:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[Accepted] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    auth_attempts: list[tuple[str, str, bool]] = field(default_factory=list)

    def take_failure(self, at: str) -> str | None:
        with self.lock:
            for failure in self.failures:
                if failure.at != at:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self.failures.remove(failure)
                return failure.reply
        return None


class _Handler:
    def __init__(self, recorder: _Recorder, listener: str) -> None:
        self.recorder = recorder
        self.listener = listener

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.recorder.take_failure("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        reply = self.recorder.take_failure("data")
        if reply:
            return reply
        content = envelope.original_content or b""
        user = session.auth_data.login.decode() if session.auth_data else None
        with self.recorder.lock:
            self.recorder.accepted.append(
                Accepted(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=content,
                    user=user,
                    listener=self.listener,
                    smtputf8=envelope.smtp_utf8,
                    mail_options=tuple(envelope.mail_options),
                )
            )
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, users: dict[str, str], recorder: _Recorder) -> None:
        self.users = users
        self.recorder = recorder

    def __call__(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = self.users.get(user) == password
        with self.recorder.lock:
            self.recorder.auth_attempts.append((user, mechanism, ok))
        if not ok:
            # handled=False: aiosmtpd then answers 535 itself (handled=True would mean
            # "the reply was already sent" and the client would wait forever).
            return AuthResult(success=False, handled=False)
        # auth_data is kept on the session, so handle_DATA knows who sent.
        return AuthResult(success=True, auth_data=auth_data)


class _QuietController(Controller):
    """aiosmtpd warns at every connection when AUTH is allowed without STARTTLS; on the
    implicit-TLS listener the connection is already TLS, and the plain one exists to
    test security "none", so the warning is noise here."""

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SMTPServer:
    tls: TLSFiles
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=lambda: dict(SMTP_USERS))
    starttls_port: int = 0
    tls_port: int = 0
    plain_port: int = 0
    _recorder: _Recorder = field(default_factory=_Recorder)
    _controllers: list[Controller] = field(default_factory=list)

    def start(self) -> None:
        if self._controllers:
            return
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.starttls_port = self.starttls_port or free_port()
        self.tls_port = self.tls_port or free_port()
        self.plain_port = self.plain_port or free_port()
        server_ctx = self.tls.server_context()
        common: dict[str, Any] = {
            "authenticator": _Authenticator(self.users, self._recorder),
            "auth_required": True,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "hostname": self.host,
            "ready_timeout": 10.0,
        }
        starttls = Controller(
            _Handler(self._recorder, "starttls"),
            port=self.starttls_port,
            tls_context=server_ctx,
            require_starttls=True,
            server_hostname="smtp.test",
            **common,
        )
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; this listener is
        # TLS from the first byte, so AUTH in it is safe.
        implicit = _QuietController(
            _Handler(self._recorder, "tls"),
            port=self.tls_port,
            ssl_context=server_ctx,
            auth_require_tls=False,
            server_hostname="smtp.test",
            **common,
        )
        plain = _QuietController(
            _Handler(self._recorder, "plain"),
            port=self.plain_port,
            auth_require_tls=False,
            server_hostname="smtp.test",
            **common,
        )
        for controller in (starttls, implicit, plain):
            controller.start()
            self._controllers.append(controller)

    def stop(self) -> None:
        for controller in self._controllers:
            controller.stop()
        self._controllers.clear()

    # -- inspection and control --------------------------------------------------------
    @property
    def accepted(self) -> list[Accepted]:
        with self._recorder.lock:
            return list(self._recorder.accepted)

    @property
    def auth_attempts(self) -> list[tuple[str, str, bool]]:
        """(user, mechanism, success) for every AUTH attempt with a login and password."""
        with self._recorder.lock:
            return list(self._recorder.auth_attempts)

    def fail_next(
        self, code: int, message: str = "", *, at: str = "rcpt", count: int | None = 1
    ) -> None:
        """Answer the next `count` RCPT (or DATA) commands with `code message`.

        count=None fails every one until reset(). For RCPT, each recipient counts once.
        """
        if at not in ("rcpt", "data"):
            raise ValueError("at must be 'rcpt' or 'data'")
        text = message or ("Try again later" if 400 <= code < 500 else "Rejected")
        with self._recorder.lock:
            self._recorder.failures.append(_Failure(at, f"{code} {text}", count))

    def reset(self) -> None:
        """Forget what was accepted and every pending failure."""
        with self._recorder.lock:
            self._recorder.accepted.clear()
            self._recorder.failures.clear()
            self._recorder.auth_attempts.clear()

    def client_context(self) -> ssl.SSLContext:
        return self.tls.client_context()
