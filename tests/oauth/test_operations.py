"""Queued upstream operations of an OAuth2 account that loses its grant: they wait,
untried, while the account is paused, and reach the server after reconnecting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.oauth.models import OAuthClient
from tests.oauth.conftest import make_oauth_account
from tests.oauth.flow_helpers import authorize, provider_url
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import OAuthProvider
from webmail.mail import actions
from webmail.mail.models import Message, OperationState, UpstreamOperation
from webmail.sync.engine import sync_account
from webmail.sync.operations import PAUSED, due_account_ids, replay_operations

pytestmark = pytest.mark.django_db

RAW = b"From: Carol <carol@example.net>\r\nSubject: Paused\r\n\r\nHello\r\n"


def queue(account_id: int) -> list[tuple[str, int]]:
    return list(UpstreamOperation.objects.filter(account_id=account_id).order_by("id")
                .values_list("state", "attempts"))


def test_changes_made_while_paused_wait_untried_and_reach_the_server_after_reconnecting(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider, oauth_mailbox: OAuthDovecotServer,
        django_capture_on_commit_callbacks: Any) -> None:
    oauth_mailbox.deliver("alice", RAW)
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    sync_account(account.pk)
    (message,) = Message.objects.filter(folder__account=account)

    # The grant is revoked at the provider: the replay finds out and pauses the account,
    # and the operation is not charged an attempt for it.
    oauth_provider.revoke_all()
    oauth_provider.expire_access_tokens()
    actions.mark_read(messages=[message])
    stats = replay_operations(account.pk)
    account.refresh_from_db()
    assert account.reconnect_needed
    assert stats.error == PAUSED and stats.remaining == 1 and stats.retry_at is None
    assert queue(account.pk) == [(OperationState.PENDING, 0)]
    assert UpstreamOperation.objects.get(account=account).next_attempt_at is None

    # Paused: beat's fallback skips the account, and a replay (even a forced one) asks
    # neither the provider nor the server, and leaves the queue as it was.
    actions.flag(messages=[message])
    asked = len(oauth_provider.log)
    assert account.pk not in due_account_ids()
    stats = replay_operations(account.pk, force=True)
    assert (stats.done, stats.failed, stats.remaining) == (0, 0, 2)
    assert len(oauth_provider.log) == asked
    assert queue(account.pk) == [(OperationState.PENDING, 0)] * 2
    assert oauth_mailbox.flags("alice") == [set()]
    # A backoff left from a server outage before the pause must not delay them after.
    UpstreamOperation.objects.filter(account=account).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5))

    response = alice_client.post(f"/accounts/{account.pk}/reconnect/")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert alice_client.get(authorize(provider_url(response))).status_code == 302
    assert callbacks, "reconnecting queues the sync that replays"
    account.refresh_from_db()
    assert not account.reconnect_needed
    assert account.pk in due_account_ids()

    # What the queued sync does: replay first, then read the server.
    sync_account(account.pk)
    assert oauth_mailbox.flags("alice") == [{"\\Seen", "\\Flagged"}]
    assert queue(account.pk) == [(OperationState.DONE, 1)] * 2  # the one try that worked
    message.refresh_from_db()
    assert message.is_seen and message.is_flagged
