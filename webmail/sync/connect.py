"""From a MailAccount to a connected protocol client (the only place that maps them).

Protocol clients know nothing of Django; the sync engines, the replay of upstream
operations and the IDLE supervisor all get their connections here.
"""

from __future__ import annotations

from django.conf import settings

from accounts.hosts import check_host_allowed
from accounts.models import MailAccount
from accounts.oauth.login import connect_with_refresh, incoming_secret
from webmail.protocols.imap import ImapClient
from webmail.protocols.tls import ServerEndpoint

# Seconds to wait for any single IMAP read: a 1,000-message FETCH streams continuously,
# so this bounds a stalled server, not a long command.
IMAP_TIMEOUT_SECONDS = 60.0


def imap_endpoint_for(account: MailAccount, *, timeout: float = IMAP_TIMEOUT_SECONDS
                      ) -> ServerEndpoint:
    return incoming_endpoint_for(account, timeout=timeout)


def incoming_endpoint_for(account: MailAccount, *, timeout: float) -> ServerEndpoint:
    """The account's incoming server (IMAP or POP3) as the protocol clients take it."""
    secret, auth = incoming_secret(account)
    return ServerEndpoint(
        host=account.incoming_host,
        port=account.incoming_port,
        security=account.incoming_security,  # type: ignore[arg-type]
        username=account.incoming_username,
        password=secret,
        auth=auth,
        timeout=timeout,
        ca_file=settings.WEBMAIL_EXTRA_CA_FILE or None,
        pinned_sha256=account.trusted_cert_sha256,
    )


def imap_client_for(account: MailAccount) -> ImapClient:
    """A connected, logged-in IMAP client (CONDSTORE/QRESYNC enabled when offered)."""
    def build() -> ServerEndpoint:
        endpoint = imap_endpoint_for(account)
        check_host_allowed(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        return endpoint

    return connect_with_refresh(account, build, ImapClient.connect)
