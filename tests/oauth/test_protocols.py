"""XOAUTH2 and OAUTHBEARER logins against Dovecot's oauth2 passdb and the SMTP fixture."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.oauth.models import OAuthClient
from tests.oauth.conftest import make_oauth_account
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import OAuthProvider
from tests.servers.oauth_smtp import OAuthSMTPServer
from webmail.compose.endpoints import smtp_endpoint
from webmail.protocols.errors import AuthenticationFailed
from webmail.protocols.imap import ImapClient
from webmail.protocols.pop3 import Pop3Client
from webmail.protocols.smtp import SmtpClient
from webmail.protocols.tls import ServerEndpoint
from webmail.sync.connect import imap_client_for, incoming_endpoint_for

pytestmark = pytest.mark.django_db


def test_imap_pop3_and_smtp_log_in_with_the_access_token(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_mailbox: OAuthDovecotServer, oauth_smtp: OAuthSMTPServer) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    oauth_mailbox.deliver("alice", b"Subject: hi\r\n\r\nbody\r\n")

    with imap_client_for(account) as client:
        assert [f.remote_name for f in client.list_folders() if f.remote_name == "INBOX"]
    endpoint = incoming_endpoint_for(account, timeout=10)
    pop3 = ServerEndpoint(**{**endpoint.__dict__, "port": oauth_mailbox.ports.pop3})
    with Pop3Client(pop3) as client:
        assert client.stat().count == 1
    with SmtpClient(smtp_endpoint(account)) as client:
        client.send("alice@example.test", ["bob@example.test"],
                    b"Subject: x\r\n\r\nhello\r\n")
    assert [d.user for d in oauth_smtp.delivered] == ["alice@example.test"]
    assert oauth_provider.count("introspect") >= 3


def test_a_password_is_not_a_token(oauth_mailbox: OAuthDovecotServer) -> None:
    endpoint = ServerEndpoint(host="127.0.0.1", port=oauth_mailbox.ports.imap,
                              security="none", username="alice", password="alice-pw",
                              auth="oauth2", timeout=10)
    with pytest.raises(AuthenticationFailed):
        ImapClient.connect(endpoint)


def test_the_connection_check_logs_in_with_the_token(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_mailbox: OAuthDovecotServer, oauth_smtp: OAuthSMTPServer) -> None:
    from accounts.connection_check import check_account

    account = make_oauth_account(alice, oauth_client, oauth_provider)
    report = check_account(account)
    assert [r.ok for r in report.results] == [True, True], report
