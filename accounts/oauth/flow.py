"""The authorization code flow with PKCE (RFC 7636), through Authlib.

The state and the code verifier live in the person's session only: a callback whose
state is not the one this session started is refused before any token request, and the
provider refuses a code presented without the matching verifier.
"""

from __future__ import annotations

import secrets
from typing import Any

import requests
from authlib.integrations.requests_client import OAuthError  # type: ignore[import-untyped]
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from accounts.models import AuthKind, MailAccount, SyncStatus, User
from accounts.oauth.models import OAuthClient
from accounts.oauth.presets import extra_authorization_params
from accounts.oauth.tokens import provider_session, store_grant

SESSION_KEY = "oauth_pending"


class FlowError(Exception):
    """The callback cannot complete; the message is safe to show (no token in it)."""


def redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("oauth_callback"))


def start(request: HttpRequest, client: OAuthClient, *, email: str,
          account: MailAccount | None = None) -> str:
    """Remember what this session is connecting; the provider's authorization URL."""
    verifier = secrets.token_urlsafe(64)
    with provider_session(client, redirect_uri=redirect_uri(request),
                          code_challenge_method="S256") as session:
        url, state = session.create_authorization_url(
            client.authorization_url, code_verifier=verifier,
            login_hint=email, **extra_authorization_params(client))
    request.session[SESSION_KEY] = {
        "state": state, "verifier": verifier, "client": client.pk, "email": email,
        "account": account.pk if account else None,
    }
    return str(url)


def finish(request: HttpRequest, user: User) -> MailAccount:
    """Check the state, trade the code (with the verifier) for tokens, store them."""
    pending: dict[str, Any] | None = request.session.pop(SESSION_KEY, None)
    state = request.GET.get("state", "")
    if not pending or not state or not constant_time_compare(state, pending["state"]):
        raise FlowError("This sign-in did not start here (the state does not match). "
                        "Start again from your mail accounts.")
    if request.GET.get("error"):
        raise FlowError(f"The provider did not grant access ({request.GET['error'][:100]}).")
    client = OAuthClient.objects.get(pk=pending["client"], enabled=True)
    try:
        with provider_session(client, redirect_uri=redirect_uri(request)) as session:
            token: dict[str, Any] = session.fetch_token(
                client.token_url, code=request.GET.get("code", ""),
                code_verifier=pending["verifier"])
    except OAuthError as exc:
        raise FlowError(f"{client.name} refused the sign-in ({exc.error}).") from None
    except requests.RequestException:
        raise FlowError(f"{client.name} could not be reached. Try again.") from None
    if not token.get("refresh_token"):
        raise FlowError(f"{client.name} gave no refresh token: check the client's scopes "
                        "(offline access).")
    return _save_account(user, client, pending, token)


def _save_account(user: User, client: OAuthClient, pending: dict[str, Any],
                  token: dict[str, Any]) -> MailAccount:
    if pending["account"]:
        account = MailAccount.objects.get(pk=pending["account"], owner=user)
    else:
        account = MailAccount(
            owner=user, email=pending["email"], protocol=client.incoming_protocol,
            incoming_host=client.incoming_host, incoming_security=client.incoming_security,
            incoming_port=client.incoming_port or 993, incoming_username=pending["email"],
            smtp_host=client.smtp_host, smtp_security=client.smtp_security,
            smtp_port=client.smtp_port or 465,
        )
    account.auth_kind = AuthKind.OAUTH2
    account.oauth_client = client
    store_grant(account, token)
    account.reconnect_needed = False
    if account.sync_status == SyncStatus.ERROR:
        account.last_error = ""
    with transaction.atomic():
        account.save()
        if pending["account"]:
            _release_queued_operations(account.pk)
        transaction.on_commit(lambda: _resume(account.pk))
    return account


def _release_queued_operations(account_id: int) -> None:
    """Changes the person made while the account was paused are due at once: the
    sync queued on commit replays them first (webmail.sync.operations)."""
    from webmail.sync.operations import resume_after_reconnect

    resume_after_reconnect(account_id)


def _resume(account_id: int) -> None:
    """After (re)connecting: sync now (which replays the queued changes first) and
    send whatever waited. With the broker away, beat's poll and dispatch do both later."""
    from webmail.broker import send_or_leave_to_beat
    from webmail.compose.tasks import dispatch_due
    from webmail.sync.tasks import sync_account_task

    send_or_leave_to_beat(lambda: sync_account_task.delay(account_id),
                          task="sync_account", object_id=account_id)
    send_or_leave_to_beat(dispatch_due.delay, task="dispatch_due", object_id=account_id)
