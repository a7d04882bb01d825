"""What the protocol clients log in with: a password, or a fresh OAuth2 access token
(refreshed once more when the server rejects it, in case it was revoked early)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from accounts.models import AuthKind, MailAccount
from accounts.oauth.tokens import ReconnectNeeded, access_token_for, mark_reconnect_needed
from webmail.protocols.errors import AuthenticationFailed
from webmail.protocols.tls import Auth, ServerEndpoint

T = TypeVar("T")


def is_oauth(account: MailAccount) -> bool:
    return account.auth_kind == AuthKind.OAUTH2


def incoming_secret(account: MailAccount) -> tuple[str, Auth]:
    """(password or access token, how to send it) for the incoming server."""
    if is_oauth(account):
        return access_token_for(account), "oauth2"
    return account.incoming_password(), "password"


def smtp_credentials(account: MailAccount) -> tuple[str, str, Auth]:
    """(username, password or access token, how) for SMTP; one grant covers both."""
    if is_oauth(account):
        return account.incoming_username, access_token_for(account), "oauth2"
    username, password = account.smtp_login()
    return username, password, "password"


def connect_with_refresh(account: MailAccount, build: Callable[[], ServerEndpoint],
                         connect: Callable[[ServerEndpoint], T]) -> T:
    """connect(build()); for OAuth2 accounts a rejected token is refreshed and tried
    once more, and a second rejection pauses the account (no retry storm)."""
    endpoint = build()
    try:
        return connect(endpoint)
    except AuthenticationFailed as exc:
        if not is_oauth(account) or isinstance(exc, ReconnectNeeded):
            raise
        access_token_for(account, rejected=endpoint.password)
    try:
        return connect(build())
    except AuthenticationFailed as exc:
        if isinstance(exc, ReconnectNeeded):
            raise
        raise mark_reconnect_needed(account, "token refused after refresh") from None
