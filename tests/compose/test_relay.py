"""Sending through the real SMTP test server with the real Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import time_machine
from django.utils import timezone

from accounts.models import MailAccount
from tests.compose.conftest import wait_for, wait_for_state
from tests.servers.smtp import SMTPServer
from webmail.compose import outbox
from webmail.compose.drafts import new_draft
from webmail.compose.models import Draft, DraftState, Outbox, OutboxState
from webmail.compose.relay import relay
from webmail.compose.sending import send_draft
from webmail.compose.tasks import dispatch_due, relay_task


def draft_for(account: MailAccount, **fields: str) -> Draft:
    values = {"to": "Bob <bob@example.net>", "subject": "Hello", "body_html": "<p>Hi</p>"}
    values.update(fields)
    return new_draft(owner=account.owner, account=account, **values)


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_sent_message_reaches_the_server_once_with_the_envelope(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    row = send_draft(draft_for(account, cc="carol@example.net", bcc="dan@example.net"))
    row = wait_for_state(row.pk, OutboxState.SENT)
    (accepted,) = smtp.accepted
    assert accepted.mail_from == "alice@example.org"
    assert accepted.rcpt_tos == ("bob@example.net", "carol@example.net", "dan@example.net")
    assert accepted.user == "alice"
    assert parsed(accepted.data)["Message-ID"] == row.message_id
    assert row.attempts == 1
    assert [r["accepted"] for r in row.recipient_results] == [True, True, True]


def test_bcc_recipients_get_the_message_but_appear_in_no_header(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    row = send_draft(draft_for(account, bcc="Secret Sam <sam@example.net>"))
    wait_for_state(row.pk, OutboxState.SENT)
    (accepted,) = smtp.accepted
    assert "sam@example.net" in accepted.rcpt_tos
    header_block = accepted.data.split(b"\r\n\r\n", 1)[0].lower()
    assert b"sam@example.net" not in header_block
    assert b"bcc" not in header_block
    assert b"sam@example.net" not in accepted.data.lower()


def test_a_temporary_refusal_is_retried_and_delivered_exactly_once(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    smtp.fail_next(451, "4.3.0 Mailbox busy, try later", at="data", count=1)
    row = send_draft(draft_for(account))
    row = wait_for_state(row.pk, OutboxState.SENT)
    time.sleep(1)  # any duplicate hand-out would have landed by now
    assert len(smtp.accepted) == 1
    assert row.attempts == 2


def test_a_permanent_refusal_fails_with_the_servers_words(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    smtp.fail_next(550, "5.7.1 Relaying denied by policy", at="data", count=1)
    row = wait_for_state(send_draft(draft_for(account)).pk, OutboxState.FAILED)
    assert row.last_error == "550 5.7.1 Relaying denied by policy"
    assert row.error_code == 550
    assert row.attempts == 1
    assert smtp.accepted == []


def test_a_partial_rejection_is_reported_per_address(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    smtp.fail_next(550, "5.1.1 No such user here", at="rcpt", count=1)
    row = send_draft(draft_for(account, to="nobody@example.net, bob@example.net"))
    row = wait_for_state(row.pk, OutboxState.SENT)
    assert smtp.accepted[0].rcpt_tos == ("bob@example.net",)
    assert row.refused == [{"address": "nobody@example.net", "accepted": False, "code": 550,
                            "message": "5.1.1 No such user here"}]
    assert "nobody@example.net (550 5.1.1 No such user here)" in row.last_error


def test_undo_within_the_window_sends_nothing_and_reopens_the_draft(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    draft = draft_for(account)
    row = send_draft(draft, undo_seconds=1)
    assert Draft.objects.get(pk=draft.pk).state == DraftState.QUEUED
    assert outbox.cancel(row)
    time.sleep(2)  # the relay task fires at the end of the window and finds nothing
    assert Outbox.objects.get(pk=row.pk).state == OutboxState.CANCELLED
    assert Draft.objects.get(pk=draft.pk).state == DraftState.OPEN
    assert smtp.accepted == []


def test_without_undo_the_message_waits_for_the_window_before_leaving(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    start = time.monotonic()
    row = send_draft(draft_for(account), undo_seconds=1.5)
    wait_for_state(row.pk, OutboxState.SENT)
    assert time.monotonic() - start >= 1.4
    assert not outbox.cancel(row)  # too late


def test_a_scheduled_message_leaves_at_its_time(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    when = timezone.now() + timedelta(hours=3)
    row = send_draft(draft_for(account), scheduled_at=when)
    assert dispatch_due.delay().get(timeout=10) == 0
    with time_machine.travel(when - timedelta(minutes=1), tick=True):
        assert dispatch_due.delay().get(timeout=10) == 0
    time.sleep(0.3)
    assert smtp.accepted == []
    with time_machine.travel(when + timedelta(seconds=1), tick=True):
        assert dispatch_due.delay().get(timeout=10) == 1
        wait_for_state(row.pk, OutboxState.SENT)
    assert len(smtp.accepted) == 1


def test_a_row_a_dead_worker_left_mid_transaction_becomes_uncertain_not_resent(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    # What a worker killed after MAIL FROM leaves behind:
    token = outbox.claim(row.pk)
    assert token is not None and outbox.enter_transaction(row.pk, token)
    assert relay_task.delay(row.pk).get(timeout=10) == "skipped"  # a redelivery
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):
        dispatch_due.delay().get(timeout=10)
    row = Outbox.objects.get(pk=row.pk)
    assert row.state == OutboxState.UNCERTAIN
    assert "may or may not have been sent" in row.last_error
    time.sleep(0.5)
    assert smtp.accepted == []
    assert outbox.resolve_uncertain(row, resend=False)
    assert Outbox.objects.get(pk=row.pk).state == OutboxState.SENT


def test_a_row_a_dead_worker_left_before_talking_to_the_server_is_sent_once(
        account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert outbox.claim(row.pk) is not None  # killed while connecting
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):
        dispatch_due.delay().get(timeout=10)
        wait_for_state(row.pk, OutboxState.SENT)
    assert len(smtp.accepted) == 1


def test_two_workers_racing_for_one_row_send_it_once(
        account: MailAccount, smtp: SMTPServer, db: None) -> None:
    row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert relay(row.pk).state == "sent"
    assert relay(row.pk).state == "skipped"
    assert len(smtp.accepted) == 1


def test_temporary_failures_stop_after_the_give_up_time(
        account: MailAccount, smtp: SMTPServer, db: None, settings: object) -> None:
    smtp.fail_next(421, "4.7.0 Try again later", at="data", count=None)
    row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert relay(row.pk).state == "retry"
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=True):
        Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        outcome = relay(row.pk)
    assert outcome.state == "failed"
    row = Outbox.objects.get(pk=row.pk)
    assert row.state == OutboxState.FAILED
    assert row.last_error.startswith("Gave up after 2 attempts: 421 4.7.0 Try again later")
    assert smtp.accepted == []


def test_a_wrong_password_fails_without_retrying(
        account: MailAccount, smtp: SMTPServer, db: None) -> None:
    account.set_incoming_password("wrong")
    account.save()
    row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert relay(row.pk).state == "failed"
    row = Outbox.objects.get(pk=row.pk)
    assert row.error_code == 535
    wait_for(lambda: True)


def test_implicit_tls_and_starttls_both_relay(
        alice: object, smtp: SMTPServer, compose_settings: object, db: None) -> None:
    from tests.compose.conftest import sending_account

    listeners = []
    for security in ("tls", "starttls"):
        account = sending_account(alice, smtp, security=security)  # type: ignore[arg-type]
        row = send_draft(draft_for(account), scheduled_at=timezone.now() + timedelta(hours=1))
        Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert relay(row.pk).state == "sent"
        listeners.append(smtp.accepted[-1].listener)
    assert listeners == ["tls", "starttls"]


def test_an_internationalised_address_is_sent_with_smtputf8(
        account: MailAccount, smtp: SMTPServer, db: None) -> None:
    row = send_draft(draft_for(account, to="José <josé@example.net>"),
                     scheduled_at=timezone.now() + timedelta(hours=1))
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert relay(row.pk).state == "sent"
    (accepted,) = smtp.accepted
    assert accepted.smtputf8
    assert accepted.rcpt_tos == ("josé@example.net",)
    assert "To: José <josé@example.net>".encode() in accepted.data  # raw UTF-8 header
