"""Where to send from and where drafts go: ServerEndpoints for an account."""

from __future__ import annotations

from typing import cast

from django.conf import settings

from accounts.models import MailAccount
from webmail.compose import conf
from webmail.protocols.tls import Security, ServerEndpoint


def smtp_endpoint(account: MailAccount) -> ServerEndpoint:
    username, password = account.smtp_login()
    # The account's one pin names the incoming server's certificate; it applies to SMTP
    # only on the same host (as in accounts.connection_check).
    same_host = account.smtp_host.lower() == account.incoming_host.lower()
    return ServerEndpoint(
        host=account.smtp_host,
        port=account.smtp_port,
        security=cast(Security, account.smtp_security),
        username=username,
        password=password,
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
