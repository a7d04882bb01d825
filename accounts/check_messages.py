"""The connection check's verdicts in the person's language.

The protocol clients raise errors with English sentences (they know nothing of Django);
here each error class gets a translated sentence that says the same facts. Server
replies stay in the server's words, and anything unforeseen keeps the client's English.
Called in the worker under translation.override(the language of the request).
"""

from __future__ import annotations

from django.utils.formats import get_format
from django.utils.translation import gettext

from webmail.protocols.errors import (
    AuthenticationFailed,
    CertificateUntrusted,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    HostNotFound,
    HostUnreachable,
    MissingCapability,
    PermanentServerError,
    ProtocolError,
    ProtocolViolation,
    TemporaryServerError,
    TLSError,
)
from webmail.protocols.tls import ServerEndpoint

# Where each protocol's implicit TLS usually listens (said when STARTTLS is missing).
TLS_PORTS = {"IMAP": 993, "POP3": 995, "SMTP": 465}


def security_name(security: str) -> str:
    return gettext("no encryption") if security == "none" else {
        "starttls": "STARTTLS", "tls": "TLS"}.get(security, security)


def logged_in(kind: str, endpoint: ServerEndpoint) -> str:
    return gettext("Logged in to the %(kind)s server at %(where)s (%(security)s).") % {
        "kind": kind, "where": endpoint.where, "security": security_name(endpoint.security)}


def connected_without_login(endpoint: ServerEndpoint) -> str:
    return gettext("Connected to the SMTP server at %(where)s (%(security)s); no login is "
                   "set, so sending relies on the server accepting us without one.") % {
        "where": endpoint.where, "security": security_name(endpoint.security)}


def undecryptable(server: str) -> str:
    if server == "outgoing":
        return gettext("The stored SMTP password cannot be decrypted; enter it again.")
    return gettext("The stored password cannot be decrypted; enter it again.")


def sign_in_failed(exc: ProtocolError, provider: str) -> str:
    """An OAuth2 grant that could not be used (before any server was asked)."""
    from accounts.oauth.tokens import ReconnectNeeded

    if isinstance(exc, ReconnectNeeded):
        return gettext("The connection to %(provider)s has expired or was revoked. Reconnect "
                       "the account to resume syncing and sending.") % {"provider": provider}
    return gettext("%(provider)s could not renew the sign-in now; try again later.") % {
        "provider": provider}


def explain(exc: ProtocolError, *, kind: str, endpoint: ServerEndpoint) -> str:
    """One sentence a person can act on, for an error of the check against `endpoint`."""
    from accounts.hosts import HostNotAllowed

    values: dict[str, object] = {"kind": kind, "where": endpoint.where, "host": endpoint.host,
              "username": endpoint.username, "detail": exc.detail,
              "reply": f"{exc.code} {exc.server_text.strip()}".strip() if exc.code
              else exc.server_text.strip()}
    if isinstance(exc, HostNotAllowed):
        text = gettext("“%(host)s” points to a private or local address; this site does not "
                       "connect to those.")
    elif isinstance(exc, HostNotFound):
        text = (gettext("The name “%(host)s” could not be looked up right now (DNS did not "
                        "answer).") if exc.temporary else
                gettext("The server name “%(host)s” was not found. Check the spelling of the "
                        "host name."))
    elif isinstance(exc, CertificateUntrusted):
        text = gettext("The TLS certificate of %(where)s is not trusted (%(detail)s). If this "
                       "server uses its own certificate, an administrator can choose to "
                       "trust it.")
    elif isinstance(exc, TLSError):
        text = gettext("The secure (TLS) connection to %(where)s failed (%(detail)s). Check "
                       "that the port and the security setting (STARTTLS or TLS) match.")
    elif isinstance(exc, ConnectTimeout):
        values["seconds"] = f"{endpoint.timeout:g}".replace(".", get_format("DECIMAL_SEPARATOR"))
        text = gettext("%(where)s did not answer within %(seconds)s seconds. The port may be "
                       "blocked by a firewall, or be the wrong one.")
    elif isinstance(exc, ConnectionRefused):
        text = gettext("%(where)s refused the connection. Check the port number and that the "
                       "mail server is running.")
    elif isinstance(exc, HostUnreachable):
        text = gettext("%(where)s cannot be reached from here (no route).")
    elif isinstance(exc, ConnectionLost):
        text = gettext("The connection to %(where)s was closed unexpectedly.")
    elif isinstance(exc, AuthenticationFailed):
        text = (gettext("The SMTP server at %(where)s requires a login before sending "
                        "(%(reply)s).") if exc.code == 530 else
                gettext("The %(kind)s server at %(where)s refused the username or password "
                        "for “%(username)s”."))
    elif isinstance(exc, MissingCapability):
        text = _missing(exc.capability, values, endpoint)
    elif isinstance(exc, ProtocolViolation):
        text = {"IMAP": gettext("The server at %(where)s did not answer as an IMAP server "
                                "does. Check the port."),
                "POP3": gettext("The server at %(where)s did not answer as a POP3 server "
                                "does. Check the port."),
                "SMTP": gettext("The server at %(where)s did not answer as an SMTP server "
                                "does. Check the port.")}.get(kind, "")
    elif isinstance(exc, TemporaryServerError) and values["reply"]:
        text = gettext("The %(kind)s server at %(where)s cannot do this now (%(reply)s); try "
                       "again later.")
    elif isinstance(exc, PermanentServerError) and values["reply"]:
        text = gettext("The %(kind)s server at %(where)s refused (%(reply)s).")
    else:
        text = ""
    if not text or (not exc.detail and "%(detail)s" in text):
        return exc.message  # unforeseen: the client's own (English) sentence
    return text % values


def _missing(capability: str, values: dict[str, object], endpoint: ServerEndpoint) -> str:
    if capability.upper() in ("STARTTLS", "STLS"):
        values["port"] = TLS_PORTS.get(str(values["kind"]), 993)
        return gettext("The %(kind)s server at %(where)s does not offer STARTTLS. Choose TLS "
                       "(usually port %(port)s) or check the port.")
    if capability.upper() == "AUTH":
        if endpoint.security == "none":
            return gettext("The %(kind)s server at %(where)s does not offer AUTH, but a "
                           "username is set (it may require STARTTLS first).")
        return gettext("The %(kind)s server at %(where)s does not offer AUTH, but a username "
                       "is set.")
    if capability.upper() == "IMAP4REV1":
        return gettext("The server at %(where)s does not speak IMAP4rev1; is this an IMAP "
                       "port?")
    values["capability"] = capability
    return gettext("The %(kind)s server at %(where)s does not offer %(capability)s.") if \
        capability else ""
