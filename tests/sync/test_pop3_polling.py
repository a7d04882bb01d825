"""POP3 accounts through the interfaces that drive syncs: beat's poll task on a real
Celery worker, and the `sync_account` command."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import MailAccount
from tests.conftest import make_user
from tests.servers.dovecot import DovecotServer
from tests.sync.pop3_support import message, pop3_account
from webmail.mail.models import Message
from webmail.sync.tasks import due_account_ids, poll_due_accounts


def wait_for(condition: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_beat_polls_a_due_pop3_account_and_its_mail_arrives(
    celery_worker: object, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = [message("polled one"), message("polled two")]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(make_user("alice"), dovecot)

    assert poll_due_accounts.delay().get(timeout=20) == 1

    assert wait_for(lambda: Message.objects.filter(account=account).count() == 2)
    assert wait_for(lambda: MailAccount.objects.get(pk=account.pk).sync_status == "ok")
    account.refresh_from_db()
    assert account.last_sync_at is not None
    assert account.sync_lease_owner == ""


@pytest.mark.django_db
def test_a_pop3_account_is_due_again_only_after_its_poll_interval(
    dovecot: DovecotServer,
) -> None:
    account = pop3_account(make_user("alice"), dovecot, poll_interval_minutes=3)
    assert due_account_ids() == [account.pk]  # never synced

    MailAccount.objects.filter(pk=account.pk).update(last_sync_at=timezone.now())
    assert due_account_ids() == []

    MailAccount.objects.filter(pk=account.pk).update(
        last_sync_at=timezone.now() - timedelta(minutes=3, seconds=1))
    assert due_account_ids() == [account.pk]


@pytest.mark.django_db
def test_the_sync_account_command_prints_json_stats_for_pop3(
    dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [message("a"), message("b"), message("c")])
    account = pop3_account(make_user("alice"), dovecot, pop3_policy="delete")
    out = io.StringIO()

    call_command("sync_account", str(account.pk), "--json", stdout=out)

    stats = json.loads(out.getvalue())
    assert stats["protocol"] == "pop3"
    assert stats["messages_fetched"] == 3
    assert stats["messages_deleted_upstream"] == 3
    assert stats["errors"] == []
    assert dovecot.messages(dovecot_user) == []
