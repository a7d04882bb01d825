"""The "test settings" check: log in to an account's incoming and outgoing servers with
a short timeout and say, in words a person can act on (and in their language, through
check_messages), what went wrong.

Certificates are verified against the system store plus WEBMAIL_EXTRA_CA_FILE, or
against the account's admin-set pin. Unless WEBMAIL_ALLOW_PRIVATE_HOSTS is on, hosts
that resolve to private, loopback or link-local addresses are refused, so the check
cannot be used to probe the machine's own network. Passwords never appear in a message
or a log line.
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from django.conf import settings
from imapclient import IMAPClient
from imapclient import exceptions as imap_exceptions

from accounts import check_messages
from accounts.credentials import CredentialError
from accounts.hosts import check_host_allowed
from accounts.models import MailAccount, Protocol
from accounts.oauth.login import incoming_secret, smtp_credentials
from webmail.protocols import sasl
from webmail.protocols.errors import (
    AuthenticationFailed,
    ConnectionLost,
    MissingCapability,
    ProtocolError,
    ProtocolViolation,
    TemporaryServerError,
    map_exception,
)
from webmail.protocols.pop3 import Pop3Client
from webmail.protocols.smtp import SmtpClient
from webmail.protocols.tls import Security, ServerEndpoint

logger = logging.getLogger(__name__)

ServerRole = Literal["incoming", "outgoing"]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    server: ServerRole
    message: str
    error: str = ""  # the ProtocolError class name when not ok, for the UI and tests
    capabilities: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class CheckReport:
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def for_server(self, server: ServerRole) -> CheckResult | None:
        return next((r for r in self.results if r.server == server), None)


def check_imap_login(endpoint: ServerEndpoint) -> set[str]:
    """Connect, (STARTTLS,) check IMAP4rev1, log in, log out; the capabilities after
    login (upper case)."""
    ep = endpoint
    client: IMAPClient | None = None
    try:
        client = IMAPClient(
            ep.host,
            port=ep.port,
            ssl=ep.security == "tls",
            ssl_context=ep.ssl_context(),
            timeout=ep.timeout,
        )
        if ep.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise MissingCapability(
                    f"The IMAP server at {ep.where} does not offer STARTTLS. Choose TLS "
                    "(usually port 993) or check the port.",
                    capability="STARTTLS",
                )
            client.starttls(ep.ssl_context())
        if not client.has_capability("IMAP4REV1"):
            raise MissingCapability(
                f"The server at {ep.where} does not speak IMAP4rev1; is this an IMAP port?",
                capability="IMAP4rev1",
            )
        try:
            if ep.auth == "oauth2":
                offered = {c.decode("ascii", "replace").upper().removeprefix("AUTH=")
                           for c in client.capabilities() if c.upper().startswith(b"AUTH=")}
                if sasl.choose(offered) == sasl.OAUTHBEARER:
                    client.oauthbearer_login(ep.username, ep.password)
                else:
                    client.oauth2_login(ep.username, ep.password)
            else:
                client.login(ep.username, ep.password)
        except imap_exceptions.LoginError as exc:
            text = str(exc)
            if "[UNAVAILABLE]" in text.upper():
                raise TemporaryServerError(
                    f"The IMAP server at {ep.where} could not check the password now "
                    f"({text}); try again later.",
                    server_text=text,
                ) from exc
            raise AuthenticationFailed(
                f"The IMAP server at {ep.where} refused the username or password for "
                f"“{ep.username}”.",
                server_text=text,
            ) from exc
        capabilities = {_text(c).upper() for c in client.capabilities()}
        client.logout()
        client = None
        return capabilities
    except ProtocolError:
        raise
    except imaplib.IMAP4.abort as exc:
        if isinstance(exc.__context__, OSError):
            raise map_exception(exc.__context__, host=ep.host, port=ep.port,
                                timeout=ep.timeout) from exc
        raise ConnectionLost(
            f"The IMAP server at {ep.where} closed the connection ({exc})."
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise ProtocolViolation(
            f"The server at {ep.where} did not answer as an IMAP server does ({exc}). "
            "Check the port."
        ) from exc
    except Exception as exc:
        raise map_exception(exc, host=ep.host, port=ep.port, timeout=ep.timeout) from exc
    finally:
        if client is not None:
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001 - closing a broken connection, nothing to report
                logger.debug("IMAP shutdown failed after a failed check", exc_info=False)


def check_pop3_login(endpoint: ServerEndpoint) -> set[str]:
    with Pop3Client(endpoint) as client:
        capabilities = set(client.capabilities())
        client.stat()
    return capabilities


def check_smtp_login(endpoint: ServerEndpoint, sender: str = "") -> set[str]:
    """Connect and log in; without a login, ask whether the server takes mail from
    `sender` anyway (MAIL FROM, then RSET)."""
    with SmtpClient(endpoint) as client:
        extensions = {name.upper() for name in client.extensions}
        if not endpoint.username and sender:
            client.probe_sender(sender)
        else:
            client.noop()
    return extensions


def check_account(account: MailAccount, *, timeout: float | None = None) -> CheckReport:
    """Log in to the incoming and (if set) the outgoing server; one result for each."""
    seconds = float(timeout if timeout is not None else settings.WEBMAIL_CHECK_TIMEOUT)
    ca_file = settings.WEBMAIL_EXTRA_CA_FILE or None
    results = [_check_incoming(account, seconds, ca_file)]
    if account.has_smtp:
        results.append(_check_outgoing(account, seconds, ca_file))
    return CheckReport(results=tuple(results))


def _check_incoming(account: MailAccount, timeout: float, ca_file: str | None) -> CheckResult:
    is_imap = account.protocol == Protocol.IMAP
    kind = "IMAP" if is_imap else "POP3"
    try:
        password, auth = incoming_secret(account)
    except CredentialError:
        return _failure("incoming", check_messages.undecryptable("incoming"),
                        "CredentialError")
    except ProtocolError as exc:  # an OAuth2 grant that cannot be renewed
        return _failure("incoming", _sign_in_failed(exc, account), type(exc).__name__)
    endpoint = ServerEndpoint(
        host=account.incoming_host,
        port=account.incoming_port,
        security=cast(Security, account.incoming_security),
        username=account.incoming_username,
        password=password,
        auth=auth,
        timeout=timeout,
        ca_file=ca_file,
        pinned_sha256=account.trusted_cert_sha256,
    )
    return _run("incoming", kind, endpoint, check_imap_login if is_imap else check_pop3_login,
                account)


def _check_outgoing(account: MailAccount, timeout: float, ca_file: str | None) -> CheckResult:
    try:
        username, password, auth = smtp_credentials(account)
    except CredentialError:
        return _failure("outgoing", check_messages.undecryptable("outgoing"),
                        "CredentialError")
    except ProtocolError as exc:
        return _failure("outgoing", _sign_in_failed(exc, account), type(exc).__name__)
    # The one pin on the account belongs to the incoming server's certificate; it also
    # applies to SMTP only when both are the same host (usually the same certificate).
    same_host = account.smtp_host.lower() == account.incoming_host.lower()
    endpoint = ServerEndpoint(
        host=account.smtp_host,
        port=account.smtp_port,
        security=cast(Security, account.smtp_security),
        username=username,
        password=password,
        auth=auth,
        timeout=timeout,
        ca_file=ca_file,
        pinned_sha256=account.trusted_cert_sha256 if same_host else "",
    )
    return _run("outgoing", "SMTP", endpoint,
                lambda ep: check_smtp_login(ep, sender=account.email), account)


def _run(server: ServerRole, kind: str, endpoint: ServerEndpoint,
         check: Callable[[ServerEndpoint], set[str]], account: MailAccount) -> CheckResult:
    try:
        check_host_allowed(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        capabilities = check(endpoint)
    except ProtocolError as exc:
        # Only the class and the account id are logged: the message may name the user.
        logger.info("connection check for account %s (%s) failed: %s",
                    account.pk, server, type(exc).__name__)
        explained = check_messages.explain(exc, kind=kind, endpoint=endpoint)
        return _failure(server, f"{kind}: {explained}", type(exc).__name__)
    if server == "outgoing" and not endpoint.username:
        message = check_messages.connected_without_login(endpoint)
    else:
        message = check_messages.logged_in(kind, endpoint)
    return CheckResult(ok=True, server=server, message=message,
                       capabilities=frozenset(capabilities))


def _sign_in_failed(exc: ProtocolError, account: MailAccount) -> str:
    provider = account.oauth_client.name if account.oauth_client else ""
    return check_messages.sign_in_failed(exc, provider) if provider else exc.message


def _failure(server: ServerRole, message: str, error: str) -> CheckResult:
    return CheckResult(ok=False, server=server, message=message, error=error)


def _text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value
