"""Connecting, refreshing, losing and regaining a grant, against the real provider,
Dovecot's oauth2 passdb and the XOAUTH2 SMTP server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import AuthKind, MailAccount, User
from accounts.oauth import tokens
from accounts.oauth.flow import SESSION_KEY
from accounts.oauth.models import OAuthClient
from tests.compose.conftest import compose_settings  # noqa: F401 - fixture
from tests.oauth.conftest import make_oauth_account
from tests.oauth.flow_helpers import authorize, provider_url, start_connect
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import OAuthProvider
from tests.servers.oauth_smtp import OAuthSMTPServer
from webmail.compose import outbox
from webmail.compose.drafts import new_draft
from webmail.compose.models import Outbox, OutboxState
from webmail.compose.relay import relay
from webmail.compose.sending import send_draft
from webmail.mail.models import BodyState, Message
from webmail.sync import imap as imap_sync
from webmail.sync.engine import sync_account
from webmail.sync.tasks import due_account_ids

pytestmark = pytest.mark.django_db

RAW = b"From: Carol <carol@example.net>\r\nSubject: Welcome %d\r\n\r\nHello %d\r\n"


def test_connect_with_the_provider_creates_an_account_that_syncs(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider, oauth_mailbox: OAuthDovecotServer) -> None:
    oauth_mailbox.deliver("alice", RAW % (1, 1))
    assert "Connect with Example" in alice_client.get("/accounts/").content.decode()
    url = start_connect(alice_client, oauth_client.pk, "alice@example.test")
    query = parse_qs(urlparse(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]

    response = alice_client.get(authorize(url))
    assert response.status_code == 302 and response["Location"] == "/accounts/"

    account = MailAccount.objects.get(owner=alice)
    assert account.auth_kind == AuthKind.OAUTH2 and not account.reconnect_needed
    sync_account(account.pk)
    assert list(Message.objects.filter(folder__account=account).values_list(
        "subject", flat=True)) == ["Welcome 1"]


def test_a_callback_with_another_state_is_refused(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider) -> None:
    callback = authorize(start_connect(alice_client, oauth_client.pk, "alice@example.test"))
    path, _, query = callback.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    forged = f"{path}?{urlencode({**params, 'state': 'attacker-state'})}"
    response = alice_client.get(forged)
    assert response.status_code == 400
    assert "state does not match" in response.content.decode()
    assert not MailAccount.objects.filter(owner=alice).exists()
    assert oauth_provider.count("token:authorization_code") == 0


def test_a_code_presented_without_its_pkce_verifier_is_refused(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider) -> None:
    callback = authorize(start_connect(alice_client, oauth_client.pk, "alice@example.test"))
    session = alice_client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "verifier": "x" * 64}
    session.save()
    response = alice_client.get(callback)
    assert response.status_code == 400
    assert "refused the sign-in (invalid_grant)" in response.content.decode()
    assert oauth_provider.count("pkce-mismatch") == 1
    assert not MailAccount.objects.filter(owner=alice).exists()


def test_a_token_about_to_expire_is_refreshed_first_and_a_fresh_one_is_not(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    first = tokens.access_token_for(account)
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        assert tokens.access_token_for(account) == first
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        second = tokens.access_token_for(account)
    assert second != first
    assert oauth_provider.count("token:refresh_token") == 1
    account.refresh_from_db()
    assert tokens.access_token_for(account) == second


def test_an_access_token_that_expires_mid_sync_is_refreshed_and_the_sync_completes(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_mailbox: OAuthDovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    oauth_mailbox.deliver_many("alice", [RAW % (i, i) for i in range(30)])
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    real_bodies = imap_sync.sync_folder_bodies
    cut = []

    def expire_then_fetch(*args: Any, **kwargs: Any) -> Any:
        if not cut:
            # Between headers and bodies: the provider expires every access token and
            # the server drops the session, so the body pass has to log in again.
            cut.append(True)
            oauth_provider.expire_access_tokens()
            oauth_mailbox.doveadm("kick", "alice")
        return real_bodies(*args, **kwargs)

    monkeypatch.setattr(imap_sync, "sync_folder_bodies", expire_then_fetch)
    stats = sync_account(account.pk)

    assert cut and not stats.errors
    messages = Message.objects.filter(folder__account=account)
    assert messages.count() == 30
    assert set(messages.values_list("body_state", flat=True)) == {BodyState.FULL}
    assert oauth_provider.count("token:refresh_token") == 1
    account.refresh_from_db()
    assert not account.reconnect_needed


def test_a_revoked_grant_pauses_the_account_and_a_queued_message_goes_after_reconnecting(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider, oauth_mailbox: OAuthDovecotServer,
        oauth_smtp: OAuthSMTPServer, compose_settings: Any) -> None:  # noqa: F811
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    oauth_provider.revoke_all()
    oauth_provider.expire_access_tokens()
    draft = new_draft(owner=alice, account=account, to="bob@example.net", subject="Later",
                      body_html="<p>hi</p>")
    row = send_draft(draft)

    assert relay(row.pk).state == "waiting"
    account.refresh_from_db()
    assert account.reconnect_needed
    row.refresh_from_db()
    assert row.state == OutboxState.QUEUED and row.attempts == 0
    # Paused: no polling, no dispatch, and a sync gives up without asking anyone.
    asked = len(oauth_provider.log)
    assert account.pk not in due_account_ids()
    assert row.pk not in outbox.due_ids()
    with pytest.raises(tokens.ReconnectNeeded):
        sync_account(account.pk)
    assert len(oauth_provider.log) == asked
    page = alice_client.get("/accounts/").content.decode()
    assert "Reconnect needed" in page and f"/accounts/{account.pk}/reconnect/" in page
    edit = alice_client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Signs in with Example" in edit and f"/accounts/{account.pk}/reconnect/" in edit

    response = alice_client.post(f"/accounts/{account.pk}/reconnect/")
    assert alice_client.get(authorize(provider_url(response))).status_code == 302

    account.refresh_from_db()
    assert not account.reconnect_needed
    assert row.pk in outbox.due_ids()
    assert relay(row.pk).state == "sent"
    (delivered,) = oauth_smtp.delivered
    assert delivered.rcpt_tos == ("bob@example.net",) and b"Subject: Later" in delivered.data
    assert Outbox.objects.get(pk=row.pk).attempts == 1


def test_disconnecting_revokes_the_grant_at_the_provider(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    token = tokens.access_token_for(account)
    assert oauth_provider.introspect(token)["active"]
    alice_client.post(f"/accounts/{account.pk}/disconnect/")
    assert oauth_provider.count("revoke") == 1
    assert not oauth_provider.introspect(token)["active"]
    account.refresh_from_db()
    assert account.reconnect_needed and not account.oauth_refresh_token_encrypted


def test_another_person_cannot_reconnect_or_disconnect_an_account(
        bob_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    assert bob_client.post(f"/accounts/{account.pk}/reconnect/").status_code == 404
    assert bob_client.post(f"/accounts/{account.pk}/disconnect/").status_code == 404
    assert oauth_provider.count("revoke") == 0


def test_the_add_account_page_offers_the_registered_providers(
        alice_client: Client, oauth_client: OAuthClient) -> None:
    page = alice_client.get("/accounts/add/").content.decode()
    assert f'href="/accounts/connect/{oauth_client.pk}/"' in page
    OAuthClient.objects.filter(pk=oauth_client.pk).update(enabled=False)
    assert "Connect with" not in alice_client.get("/accounts/add/").content.decode()
    assert alice_client.get(f"/accounts/connect/{oauth_client.pk}/").status_code == 404


def test_a_pop3_account_syncs_with_its_token(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_mailbox: OAuthDovecotServer) -> None:
    oauth_mailbox.deliver("alice", RAW % (7, 7))
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    MailAccount.objects.filter(pk=account.pk).update(
        protocol="pop3", incoming_port=oauth_mailbox.ports.pop3)
    sync_account(account.pk)
    assert list(Message.objects.filter(folder__account=account).values_list(
        "subject", flat=True)) == ["Welcome 7"]
    assert oauth_provider.count("introspect") >= 1
