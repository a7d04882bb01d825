"""A typed SMTP client over smtplib: plain, STARTTLS or implicit TLS with verified
certificates and timeouts, AUTH, and a send() that reports each recipient.

Server quirks (tests in tests/protocols/test_smtp.py):

1. smtplib's sendmail() hides per-recipient answers when at least one recipient was
   accepted; send() issues MAIL/RCPT/DATA itself and returns every answer.
2. smtplib sends bytes as given, but SMTP requires CRLF line ends; bare LF in `raw` is
   turned into CRLF before DATA (dot-stuffing is smtplib's).
3. A 4yz reply is temporary (greylisting, full queue): TemporaryServerError, retry
   later; a 5yz reply is permanent: PermanentServerError, with the server's code and
   text for the person to read.
4. Some servers only advertise AUTH after STARTTLS (aiosmtpd, Postfix by default); the
   client therefore says EHLO again after STARTTLS before looking at AUTH.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from webmail.protocols import sasl
from webmail.protocols.errors import (
    AuthenticationFailed,
    ConnectionLost,
    MissingCapability,
    PermanentServerError,
    ProtocolError,
    TemporaryServerError,
    map_exception,
    server_error,
)
from webmail.protocols.tls import ServerEndpoint


@dataclass(frozen=True)
class RecipientResult:
    address: str
    accepted: bool
    code: int
    message: str


@dataclass(frozen=True)
class SendResult:
    recipients: tuple[RecipientResult, ...]
    code: int  # the reply to the end of DATA
    message: str

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(r.address for r in self.recipients if r.accepted)

    @property
    def refused(self) -> tuple[RecipientResult, ...]:
        return tuple(r for r in self.recipients if not r.accepted)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


class SmtpClient:
    """One SMTP session. No network work until connect() (or `with`)."""

    def __init__(self, endpoint: ServerEndpoint, *, local_hostname: str | None = None) -> None:
        self.endpoint = endpoint
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        self.connect()
        try:
            self.login()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.quit()
        else:
            self.close()

    # -- session -----------------------------------------------------------------------
    def connect(self) -> None:
        """Connect, EHLO, and STARTTLS (then EHLO again) when asked for."""
        ep = self.endpoint
        try:
            # The host goes to the constructor (which connects): smtplib takes the TLS
            # server name for certificate checks from there, not from connect().
            conn: smtplib.SMTP
            if ep.security == "tls":
                conn = smtplib.SMTP_SSL(
                    ep.host, ep.port, local_hostname=self.local_hostname,
                    timeout=ep.timeout, context=ep.ssl_context(),
                )
            else:
                conn = smtplib.SMTP(
                    ep.host, ep.port, local_hostname=self.local_hostname, timeout=ep.timeout
                )
            self._conn = conn
            conn.ehlo()
            if ep.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise MissingCapability(
                        f"The SMTP server at {ep.where} does not offer STARTTLS. Choose TLS "
                        "(usually port 465) or check the port.",
                        capability="STARTTLS",
                    )
                conn.starttls(context=ep.ssl_context())
                conn.ehlo()
        except Exception as exc:
            self.close()
            raise self._map(exc, during="connect") from exc

    @property
    def extensions(self) -> dict[str, str]:
        """EHLO keywords (lower case) and their parameters."""
        return dict(self._require().esmtp_features)

    def login(self) -> None:
        """AUTH with the endpoint's credentials; nothing to do without a username."""
        ep = self.endpoint
        if not ep.username:
            return
        conn = self._require()
        if not conn.has_extn("auth"):
            raise MissingCapability(
                f"The SMTP server at {ep.where} does not offer AUTH, but a username is set"
                + (" (it may require STARTTLS first)." if ep.security == "none" else "."),
                capability="AUTH",
            )
        try:
            if ep.auth == "oauth2":
                mechanism = sasl.choose(set(conn.esmtp_features.get("auth", "").split()))
                initial = (sasl.oauthbearer if mechanism == sasl.OAUTHBEARER else sasl.xoauth2)(
                    ep.username, ep.password)
                # A 334 challenge carries the server's error: answer empty for the 5xx.
                conn.auth(mechanism, lambda challenge=None: "" if challenge else initial)
            else:
                conn.login(ep.username, ep.password)
        except Exception as exc:
            raise self._map(exc, during="login") from exc

    def send(
        self,
        envelope_from: str,
        recipients: list[str] | tuple[str, ...],
        raw: bytes,
        *,
        smtputf8: bool = False,
    ) -> SendResult:
        """One transaction. Raises if MAIL, every RCPT, or DATA is refused."""
        ep = self.endpoint
        conn = self._require()
        if not recipients:
            raise ValueError("at least one recipient is needed")
        data = _crlf(raw)
        options: list[str] = []
        if smtputf8:
            if not conn.has_extn("smtputf8"):
                raise MissingCapability(
                    f"The SMTP server at {ep.where} cannot take internationalised "
                    "addresses (no SMTPUTF8).",
                    capability="SMTPUTF8",
                )
            options.append("SMTPUTF8")
        if any(byte >= 0x80 for byte in data) and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if conn.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        try:
            code, message = conn.mail(envelope_from, options)
            if code != 250:
                self._rset()
                raise server_error(code, _text(message), during="MAIL FROM")
            results = []
            for address in recipients:
                code, message = conn.rcpt(address)
                results.append(
                    RecipientResult(address, code in (250, 251), code, _text(message))
                )
            if not any(r.accepted for r in results):
                self._rset()
                raise _all_refused(results)
            code, message = conn.data(data)
            if code != 250:
                self._rset()
                raise server_error(code, _text(message), during="DATA")
        except Exception as exc:
            raise self._map(exc, during="send") from exc
        return SendResult(recipients=tuple(results), code=code, message=_text(message))

    def probe_sender(self, envelope_from: str) -> None:
        """MAIL FROM then RSET: would the server take mail from us now? (No message.)"""
        conn = self._require()
        try:
            code, message = conn.mail(envelope_from)
            self._rset()
        except Exception as exc:
            raise self._map(exc, during="MAIL FROM") from exc
        if code == 530:
            raise AuthenticationFailed(
                f"The SMTP server at {self.endpoint.where} requires a login before sending "
                f"({code} {_text(message)}).",
                code=code, server_text=_text(message),
            )
        if code != 250:
            raise server_error(code, _text(message), during="MAIL FROM")

    def noop(self) -> None:
        try:
            code, message = self._require().noop()
        except Exception as exc:
            raise self._map(exc, during="NOOP") from exc
        if code != 250:
            raise server_error(code, _text(message), during="NOOP")

    def quit(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the message was already accepted or refused; QUIT changes nothing
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- internals ---------------------------------------------------------------------
    def _require(self) -> smtplib.SMTP:
        if self._conn is None:
            raise ConnectionLost(f"Not connected to {self.endpoint.where}.")
        return self._conn

    def _rset(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.rset()
            except (smtplib.SMTPException, OSError):
                self.close()

    def _map(self, exc: BaseException, *, during: str) -> ProtocolError:
        ep = self.endpoint
        if isinstance(exc, ProtocolError):
            return exc
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            self.close()
            # smtplib turns a read timeout into "Connection unexpectedly closed".
            if isinstance(exc.__context__, OSError):
                return map_exception(exc.__context__, host=ep.host, port=ep.port,
                                     timeout=ep.timeout)
            return ConnectionLost(
                f"The SMTP server at {ep.where} closed the connection during {during}."
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return MissingCapability(
                f"The SMTP server at {ep.where} does not support what {during} needs "
                f"({exc}).",
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            text = _text(exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                return TemporaryServerError(
                    f"The SMTP server at {ep.where} could not check the password now "
                    f"({exc.smtp_code} {text}); will retry later.",
                    code=exc.smtp_code, server_text=text,
                )
            return AuthenticationFailed(
                f"The SMTP server at {ep.where} refused the username or password for "
                f"“{ep.username}” ({exc.smtp_code} {text}).",
                code=exc.smtp_code, server_text=text,
            )
        if isinstance(exc, smtplib.SMTPResponseException):  # incl. SMTPConnectError
            return server_error(exc.smtp_code, _text(exc.smtp_error), during=during)
        if isinstance(exc, smtplib.SMTPException):
            if during == "login":
                return MissingCapability(
                    f"The SMTP server at {ep.where} offers no login method we support "
                    f"({exc}).",
                    capability="AUTH",
                )
            return ProtocolError(f"SMTP error with {ep.where} during {during}: {exc}.")
        self.close()
        return map_exception(exc, host=ep.host, port=ep.port, timeout=ep.timeout)


def _all_refused(results: list[RecipientResult]) -> ProtocolError:
    detail = "; ".join(f"{r.address}: {r.code} {r.message}" for r in results)
    if any(400 <= r.code < 500 for r in results):
        return TemporaryServerError(
            f"Every recipient was refused for now ({detail}); will retry later.",
            code=next(r.code for r in results if 400 <= r.code < 500),
            server_text=detail,
        )
    return PermanentServerError(
        f"Every recipient was refused ({detail}).", code=results[0].code, server_text=detail
    )
