"""Access and refresh tokens of OAuth2 accounts: stored encrypted, refreshed shortly
before they expire, and the "reconnect needed" state when the provider says no.

Tokens never reach a log line, an exception message or a template: errors name the
provider's error code only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth2Session,
    OAuthError,
)
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import credentials
from accounts.models import MailAccount, SyncStatus
from accounts.oauth.models import OAuthClient
from webmail.protocols.errors import AuthenticationFailed, TemporaryServerError

log = logging.getLogger(__name__)

# Refresh this long before the provider's expiry: a sync or an SMTP session started at
# the last second must not log in with a token that dies on the way.
DEFAULT_REFRESH_MARGIN_SECONDS = 120
# Seconds for one request to the provider's token or revocation endpoint.
PROVIDER_TIMEOUT_SECONDS = 15
# Token-endpoint errors that a new login by the person is the only cure for (RFC 6749
# 5.2): retrying them would only hammer the provider.
GRANT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client",
                          "invalid_scope", "access_denied"})

RECONNECT_MESSAGE = ("The connection to {provider} has expired or was revoked. "
                     "Reconnect the account to resume syncing and sending.")


class ReconnectNeeded(AuthenticationFailed):
    """The grant is gone: nothing but the person reconnecting helps (never retried)."""


def refresh_margin() -> timedelta:
    seconds = getattr(settings, "WEBMAIL_OAUTH_REFRESH_MARGIN_SECONDS",
                      DEFAULT_REFRESH_MARGIN_SECONDS)
    return timedelta(seconds=seconds)


def provider_session(client: OAuthClient, **kwargs: Any) -> OAuth2Session:
    """An Authlib session for the client (the secret in the POST body: Google and
    Microsoft both take it there)."""
    return OAuth2Session(
        client.client_id, client.client_secret(), scope=client.scopes or None,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
        revocation_endpoint_auth_method="client_secret_post",
        default_timeout=PROVIDER_TIMEOUT_SECONDS, **kwargs,
    )


def store_grant(account: MailAccount, token: dict[str, Any]) -> None:
    """Keep a token response on the account (encrypted); a response without a refresh
    token (refresh responses often omit it) keeps the one we have."""
    if token.get("refresh_token"):
        account.oauth_refresh_token_encrypted = credentials.encrypt(token["refresh_token"])
    account.oauth_access_token_encrypted = credentials.encrypt(token["access_token"])
    account.oauth_access_expires_at = _expiry(token)


def _expiry(token: dict[str, Any]) -> datetime | None:
    if token.get("expires_in") is not None:
        return timezone.now() + timedelta(seconds=int(token["expires_in"]))
    if token.get("expires_at") is not None:
        return datetime.fromtimestamp(int(token["expires_at"]), tz=UTC)
    return None


def _fresh(account: MailAccount) -> bool:
    expires = account.oauth_access_expires_at
    return bool(account.oauth_access_token_encrypted) and (
        expires is None or expires - refresh_margin() > timezone.now())


def access_token_for(account: MailAccount, *, rejected: str = "") -> str:
    """A valid access token, refreshed first when it expires within the margin or when
    the server just `rejected` it. Raises ReconnectNeeded or TemporaryServerError."""
    if account.reconnect_needed:
        raise _reconnect_error(account)
    if _fresh(account) and not rejected:
        return credentials.decrypt(account.oauth_access_token_encrypted)
    try:
        return _refresh_locked(account, rejected)
    except _GrantRefused as refused:
        # Recorded outside the refresh's transaction, which the error rolled back.
        raise mark_reconnect_needed(account, refused.reason) from None


class _GrantRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refresh_locked(account: MailAccount, rejected: str) -> str:
    with transaction.atomic():
        # One refresh at a time per account: providers that rotate refresh tokens
        # invalidate the old one, so two racing refreshes would lose the grant.
        # of=self: PostgreSQL cannot lock the nullable side of the client's outer join.
        row = MailAccount.objects.select_for_update(of=("self",)).select_related(
            "oauth_client").get(pk=account.pk)
        current = credentials.decrypt(row.oauth_access_token_encrypted)
        if row.reconnect_needed:
            raise _reconnect_error(row)
        if _fresh(row) and (not rejected or current != rejected):
            _copy_tokens(row, account)
            return current  # another worker refreshed meanwhile
        token = _refresh(row)
        store_grant(row, token)
        row.save(update_fields=["oauth_refresh_token_encrypted",
                                "oauth_access_token_encrypted", "oauth_access_expires_at"])
    _copy_tokens(row, account)
    log.info("oauth access token refreshed", extra={"account_id": account.pk})
    return str(token["access_token"])


def _copy_tokens(source: MailAccount, target: MailAccount) -> None:
    for name in ("oauth_refresh_token_encrypted", "oauth_access_token_encrypted",
                 "oauth_access_expires_at"):
        setattr(target, name, getattr(source, name))


def _refresh(account: MailAccount) -> dict[str, Any]:
    client = account.oauth_client
    refresh_token = credentials.decrypt(account.oauth_refresh_token_encrypted)
    if client is None or not refresh_token:
        raise _GrantRefused("no refresh token")
    try:
        with provider_session(client) as session:
            token: dict[str, Any] = session.refresh_token(client.token_url,
                                                          refresh_token=refresh_token)
    except OAuthError as exc:
        if exc.error in GRANT_ERRORS:
            raise _GrantRefused(exc.error) from None
        raise TemporaryServerError(
            f"{client.name} could not renew the sign-in now ({exc.error}); will retry.",
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise TemporaryServerError(
            f"{client.name} could not be reached to renew the sign-in "
            f"({type(exc).__name__}); will retry.",
        ) from None
    if not token.get("access_token"):
        raise TemporaryServerError(f"{client.name} answered without an access token.")
    return token


def _reconnect_error(account: MailAccount) -> ReconnectNeeded:
    name = account.oauth_client.name if account.oauth_client else "the provider"
    return ReconnectNeeded(RECONNECT_MESSAGE.format(provider=name))


def mark_reconnect_needed(account: MailAccount, reason: str) -> ReconnectNeeded:
    """Pause the account until the person reconnects; returns the error to raise."""
    error = _reconnect_error(account)
    MailAccount.objects.filter(pk=account.pk).update(
        reconnect_needed=True, sync_status=SyncStatus.ERROR, last_error=str(error),
        oauth_access_token_encrypted="", oauth_access_expires_at=None,
    )
    account.reconnect_needed = True
    log.warning("oauth grant refused; reconnect needed",
                extra={"account_id": account.pk, "reason": reason})
    return error


def revoke(account: MailAccount) -> bool:
    """Revoke the refresh token at the provider (where it supports revocation) and
    forget both tokens. True when the provider confirmed."""
    client = account.oauth_client
    refresh_token = credentials.decrypt(account.oauth_refresh_token_encrypted)
    revoked = False
    if client is not None and client.revocation_url and refresh_token:
        try:
            with provider_session(client) as session:
                response = session.revoke_token(client.revocation_url, token=refresh_token,
                                                token_type_hint="refresh_token")  # noqa: S106
            revoked = response.status_code == 200
        except requests.RequestException as exc:
            log.warning("oauth revocation failed",
                        extra={"account_id": account.pk, "error": type(exc).__name__})
    account.oauth_refresh_token_encrypted = ""
    account.oauth_access_token_encrypted = ""
    account.oauth_access_expires_at = None
    return revoked
