"""No token in clear: not in any log record, not in the database, not in the pages."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import MailAccount, User
from accounts.oauth import tokens
from accounts.oauth.models import OAuthClient
from tests.oauth.conftest import make_oauth_account
from tests.oauth.flow_helpers import authorize, start_connect
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import CLIENT_SECRET, OAuthProvider
from tests.servers.oauth_smtp import OAuthSMTPServer
from webmail.compose.endpoints import smtp_endpoint
from webmail.protocols.smtp import SmtpClient
from webmail.sync.engine import sync_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def xoauth2_only_smtp(oauth_provider: OAuthProvider) -> Iterator[OAuthSMTPServer]:
    server = OAuthSMTPServer(oauth_provider.url("/introspect"), exclude=("OAUTHBEARER",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_no_token_or_client_secret_is_logged_stored_or_shown_in_clear(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider, oauth_mailbox: OAuthDovecotServer,
        oauth_smtp: OAuthSMTPServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    oauth_mailbox.deliver("alice", b"Subject: one\r\n\r\nbody\r\n")
    alice_client.get(authorize(start_connect(alice_client, oauth_client.pk,
                                             "alice@example.test")))
    account = MailAccount.objects.get(owner=alice)
    sync_account(account.pk)
    oauth_provider.expire_access_tokens()
    tokens.access_token_for(account, rejected=tokens.access_token_for(account))  # refresh
    with SmtpClient(smtp_endpoint(account)) as client:
        client.send("alice@example.test", ["bob@example.net"], b"Subject: x\r\n\r\ny\r\n")
    oauth_provider.revoke_all()
    oauth_provider.expire_access_tokens()
    with pytest.raises(tokens.ReconnectNeeded):
        tokens.access_token_for(account, rejected=tokens.access_token_for(account))

    secrets = [*oauth_provider.issued_tokens(), CLIENT_SECRET]
    assert len(secrets) >= 4  # two access tokens, the refresh token, the secret
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert not [s for s in secrets if s in logged]
    dump = io.StringIO()
    call_command("dumpdata", "accounts", stdout=dump)
    assert not [s for s in secrets if s in dump.getvalue()]
    assert account.oauth_refresh_token_encrypted or MailAccount.objects.get(
        pk=account.pk).oauth_refresh_token_encrypted
    pages = alice_client.get("/accounts/").content.decode() + alice_client.get(
        f"/accounts/{account.pk}/").content.decode()
    assert not [s for s in secrets if s in pages]


def test_smtp_logs_in_with_xoauth2_where_oauthbearer_is_not_offered(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        xoauth2_only_smtp: OAuthSMTPServer) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    MailAccount.objects.filter(pk=account.pk).update(smtp_port=xoauth2_only_smtp.port)
    account.refresh_from_db()
    with SmtpClient(smtp_endpoint(account)) as client:
        assert "OAUTHBEARER" not in client.extensions["auth"]
        client.send("alice@example.test", ["bob@example.net"], b"Subject: x\r\n\r\ny\r\n")
    assert [d.user for d in xoauth2_only_smtp.delivered] == ["alice@example.test"]


def test_a_refused_token_in_smtp_is_refreshed_once_and_the_message_goes(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_smtp: OAuthSMTPServer, settings: Any) -> None:
    from webmail.compose.drafts import new_draft
    from webmail.compose.relay import relay
    from webmail.compose.sending import send_draft

    settings.WEBMAIL_UNDO_SECONDS = 0
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    oauth_provider.expire_access_tokens()  # our copy still looks valid for an hour
    row = send_draft(new_draft(owner=alice, account=account, to="bob@example.net",
                               subject="Now", body_html="<p>x</p>"))
    assert relay(row.pk).state == "sent"
    assert oauth_provider.count("token:refresh_token") == 1
    assert [ok for _, ok in oauth_smtp.auth_attempts] == [False, True]
