"""Our protocol errors: one hierarchy for IMAP, POP3 and SMTP, no Django.

Every error carries `temporary` (retry later with backoff, or give up and show why) and
a human message fit for a person who typed the settings. Server replies keep their
`code` and `server_text`. No message ever contains a password: callers pass host, port
and username at most.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import ClassVar


class ProtocolError(Exception):
    """Base class; `temporary` says whether retrying later may help."""

    temporary_by_default: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        server_text: str = "",
        temporary: bool | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.server_text = server_text
        # A technical reason from a library (OpenSSL's, say), kept apart from the
        # sentence so a caller that words the error in another language can still say it.
        self.detail = detail
        self.temporary = self.temporary_by_default if temporary is None else temporary

    def __str__(self) -> str:
        return self.message


class HostNotFound(ProtocolError):
    temporary_by_default = False


class HostUnreachable(ProtocolError):
    """No route to the host or network (a transient network problem, usually)."""


class ConnectionRefused(ProtocolError):
    pass


class ConnectTimeout(ProtocolError):
    """The server did not answer in time (at connect, greeting or any later read)."""


class CertificateUntrusted(ProtocolError):
    """Unknown authority, self-signed, expired, wrong host name or a pin mismatch."""

    temporary_by_default = False


class TLSError(ProtocolError):
    """The TLS handshake failed for another reason (protocol versions, ciphers)."""

    temporary_by_default = False


class AuthenticationFailed(ProtocolError):
    temporary_by_default = False


class MissingCapability(ProtocolError):
    temporary_by_default = False

    def __init__(self, message: str, *, capability: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.capability = capability


class ConnectionLost(ProtocolError):
    pass


class TemporaryServerError(ProtocolError):
    """A 4xx-class answer (SMTP 4yz, POP3 [SYS/TEMP], [IN-USE], IMAP NO [UNAVAILABLE])."""


class PermanentServerError(ProtocolError):
    """A 5xx-class answer: retrying the same thing will fail the same way."""

    temporary_by_default = False


class ProtocolViolation(ProtocolError):
    """The server said something we cannot understand (or beyond our safety limits)."""

    temporary_by_default = False


def _where(host: str, port: int) -> str:
    if not host:
        return "the server"
    return f"{host}:{port}" if port else host


def server_error(code: int, text: str, *, during: str = "") -> ProtocolError:
    """A reply code to Temporary/PermanentServerError (4xx temporary, 5xx permanent)."""
    step = f" at {during}" if during else ""
    detail = text.strip() or "no explanation"
    if 400 <= code < 500:
        return TemporaryServerError(
            f"The server refused{step} for now ({code} {detail}); will retry later.",
            code=code,
            server_text=text,
        )
    return PermanentServerError(
        f"The server refused{step} ({code} {detail}).", code=code, server_text=text
    )


def map_exception(
    exc: BaseException, *, host: str = "", port: int = 0, timeout: float | None = None
) -> ProtocolError:
    """Translate a socket, DNS, TLS or timeout error into our hierarchy.

    Library-specific errors (poplib.error_proto, smtplib.SMTP*Error, imaplib) are mapped
    by each client first; whatever reaches here is transport-level.
    """
    if isinstance(exc, ProtocolError):
        return exc
    where = _where(host, port)
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_AGAIN,):
            return HostNotFound(
                f"The name “{host}” could not be looked up right now (DNS did not answer).",
                temporary=True,
            )
        return HostNotFound(
            f"The server name “{host}” was not found. Check the spelling of the host name."
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        return CertificateUntrusted(
            f"The TLS certificate of {where} is not trusted ({reason}). If this server "
            "uses its own certificate, an administrator can choose to trust it.",
            detail=str(reason),
        )
    if isinstance(exc, ssl.SSLError):
        return TLSError(
            f"The secure (TLS) connection to {where} failed ({exc.reason or exc}). Check "
            "that the port and the security setting (STARTTLS or TLS) match.",
            detail=str(exc.reason or exc),
        )
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        seconds = f" within {timeout:g} seconds" if timeout else " in time"
        return ConnectTimeout(
            f"{where} did not answer{seconds}. The port may be blocked by a firewall, "
            "or be the wrong one."
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionRefused(
            f"{where} refused the connection. Check the port number and that the "
            "mail server is running."
        )
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError | EOFError):
        return ConnectionLost(f"The connection to {where} was closed unexpectedly.")
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return HostUnreachable(f"{where} cannot be reached from here (no route).")
        return ConnectionLost(f"Network error talking to {where}: {exc.strerror or exc}.")
    return ProtocolError(f"Unexpected error talking to {where}: {type(exc).__name__}.")
