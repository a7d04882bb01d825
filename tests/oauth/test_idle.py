"""The IDLE supervisor with OAuth2 accounts: it logs in with a refreshed token and
leaves paused accounts alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import MailAccount, User
from accounts.oauth.models import OAuthClient
from tests.oauth.conftest import make_oauth_account
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import OAuthProvider
from tests.sync.test_idle import FAST, Changes
from webmail.sync.idle import Supervisor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def supervisor() -> Iterator[tuple[Supervisor, Changes]]:
    changes = Changes()
    # The real client factory: the one that fetches (and refreshes) the token.
    made = Supervisor("oauth-idle", settings=FAST, on_change=changes)
    yield made, changes
    made.stop()


def test_idle_logs_in_with_a_refreshed_token_and_hears_new_mail(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        oauth_mailbox: OAuthDovecotServer, supervisor: tuple[Supervisor, Changes]) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    oauth_provider.expire_access_tokens()
    MailAccount.objects.filter(pk=account.pk).update(
        oauth_access_expires_at=timezone.now() - timedelta(seconds=1))
    watching, changes = supervisor
    watching.run_once()
    watcher = watching.watchers[account.pk]
    assert watcher.connected.wait(10), watcher.last_error
    assert oauth_provider.count("token:refresh_token") == 1
    oauth_mailbox.deliver("alice", b"Subject: pushed\r\n\r\nx\r\n")
    assert changes.wait_for(1, timeout=10)


def test_idle_leaves_an_account_that_needs_reconnecting_alone(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        supervisor: tuple[Supervisor, Changes]) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    MailAccount.objects.filter(pk=account.pk).update(reconnect_needed=True)
    watching, _ = supervisor
    watching.run_once()
    assert account.pk not in watching.watchers
    assert oauth_provider.count("introspect") == 0
