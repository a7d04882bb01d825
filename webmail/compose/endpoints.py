"""Where to send from and where drafts go: ServerEndpoints for an account."""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass
from typing import cast

from django.conf import settings

from accounts.models import MailAccount
from accounts.oauth.login import smtp_credentials
from webmail.compose import conf
from webmail.protocols.tls import Security, ServerEndpoint, make_ssl_context

# ssl.create_default_context() reads the system trust store: about 100 ms here, more
# than the whole rest of an SMTP session on a LAN. A context can be shared by many
# connections (and lets TLS sessions resume), so one is kept per trust setting and
# rebuilt when the extra CA file changes.
_contexts: dict[tuple[str, str, float], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _shared_context(ca_file: str | None, pinned_sha256: str) -> ssl.SSLContext:
    mtime = os.stat(ca_file).st_mtime if ca_file and os.path.exists(ca_file) else 0.0
    key = (ca_file or "", pinned_sha256, mtime)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = make_ssl_context(ca_file=ca_file, pinned_sha256=pinned_sha256)
            _contexts[key] = context
        return context


@dataclass(frozen=True)
class SharedContextEndpoint(ServerEndpoint):
    def ssl_context(self) -> ssl.SSLContext:
        return _shared_context(self.ca_file, self.pinned_sha256)


def smtp_endpoint(account: MailAccount) -> ServerEndpoint:
    username, password, auth = smtp_credentials(account)
    # The account's one pin names the incoming server's certificate; it applies to SMTP
    # only on the same host (as in accounts.connection_check).
    same_host = account.smtp_host.lower() == account.incoming_host.lower()
    return SharedContextEndpoint(
        host=account.smtp_host,
        port=account.smtp_port,
        security=cast(Security, account.smtp_security),
        username=username,
        password=password,
        auth=auth,
        timeout=conf.get("WEBMAIL_SMTP_TIMEOUT"),
        ca_file=getattr(settings, "WEBMAIL_EXTRA_CA_FILE", "") or None,
        pinned_sha256=account.trusted_cert_sha256 if same_host else "",
    )


GMAIL_HOSTS = ("gmail.com", "googlemail.com")


def server_files_sent_mail(account: MailAccount) -> bool:
    """Gmail (and Google Workspace through smtp.gmail.com) puts what it relays in Sent
    itself; a second copy from us would show twice."""
    host = account.smtp_host.lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in GMAIL_HOSTS)
