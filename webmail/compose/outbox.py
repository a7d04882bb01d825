"""The outbox state machine: every transition is one conditional UPDATE.

    queued ──claim──► sending ──► sent
      ▲  │              │  ├────► failed      (5xx, bad settings, gave up after a day)
      │  └─cancel─►     │  └────► queued      (4xx, network: next_attempt_at = backoff)
      │   cancelled     └──(worker died)──► uncertain ──person──► queued | sent

A claim sets a fresh attempt token; only the holder of the token can record an
outcome, so a late or duplicate worker cannot overwrite a newer state. `phase` records
how far a claimed send got: a row left in "sending" whose phase is still "connecting"
gave the server nothing and is safely queued again; one in "transaction" may have been
accepted, so it becomes "uncertain" and a person decides (never resent blindly).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import MailAccount, User
from webmail.broker import send_or_leave_to_beat
from webmail.compose import conf
from webmail.compose.builder import BuiltMessage
from webmail.compose.models import (
    Draft,
    DraftState,
    Identity,
    Outbox,
    OutboxState,
    SendPhase,
    SentCopyState,
)
from webmail.mail import blobs
from webmail.protocols.smtp import SendResult

# How many due rows one dispatch pass hands to workers; the next beat tick takes more.
DISPATCH_BATCH = 500


def _enqueue(outbox_id: int, countdown: float) -> None:
    from webmail.compose.tasks import relay_task  # the task module imports us

    # With the broker away the row stays queued and due: beat's dispatch_due sends it.
    send_or_leave_to_beat(
        lambda: relay_task.apply_async((outbox_id,), countdown=max(0.0, countdown)),
        task="relay", object_id=outbox_id)


def enqueue_if_soon(outbox_id: int, at: datetime, *, now: datetime | None = None) -> None:
    """Queue the relay with a short countdown, or leave it to beat's dispatch_due."""
    delay = (at - (now or timezone.now())).total_seconds()
    if delay <= conf.get("WEBMAIL_SEND_COUNTDOWN_MAX_SECONDS"):
        _enqueue(outbox_id, delay)


def queue_message(
    *,
    owner: User,
    account: MailAccount,
    built: BuiltMessage,
    subject: str,
    identity: Identity | None = None,
    draft: Draft | None = None,
    scheduled_at: datetime | None = None,
    undo_seconds: float | None = None,
    in_reply_to: str = "",
) -> Outbox:
    """Write the Outbox row (raw bytes kept, Message-ID fixed) and queue the relay
    after commit. The draft, if any, leaves the list of drafts until sent or undone."""
    now = timezone.now()
    undo = conf.get("WEBMAIL_UNDO_SECONDS") if undo_seconds is None else undo_seconds
    undo_until = now + timedelta(seconds=undo) if undo > 0 else None
    first = max(t for t in (now, undo_until, scheduled_at) if t is not None)
    with transaction.atomic():
        blob = blobs.put(built.raw)
        row = Outbox.objects.create(
            owner=owner, account=account, identity=identity, draft=draft,
            message_id=built.message_id, subject=subject[:1000],
            envelope_from=built.envelope_from, recipients=list(built.recipients),
            smtputf8=built.smtputf8, blob=blob, size=len(built.raw),
            in_reply_to=in_reply_to[:998], undo_until=undo_until,
            scheduled_at=scheduled_at, next_attempt_at=first,
        )
        if draft is not None:
            Draft.objects.filter(pk=draft.pk).update(state=DraftState.QUEUED)
        row_id = row.pk
        transaction.on_commit(lambda: enqueue_if_soon(row_id, first, now=now))
    return row


def cancel(outbox: Outbox) -> bool:
    """Undo (or cancel a scheduled send) while no worker has claimed it; the draft
    comes back to be edited."""
    with transaction.atomic():
        done = Outbox.objects.filter(pk=outbox.pk, state=OutboxState.QUEUED).update(
            state=OutboxState.CANCELLED, finished_at=timezone.now(), attempt_token=""
        )
        if done and outbox.draft_id is not None:
            Draft.objects.filter(pk=outbox.draft_id).update(state=DraftState.OPEN)
    return bool(done)


def claim(outbox_id: int) -> str | None:
    """queued → sending (phase connecting) if due; the attempt token, or None."""
    now = timezone.now()
    token = secrets.token_hex(16)
    done = Outbox.objects.filter(
        pk=outbox_id, state=OutboxState.QUEUED, next_attempt_at__lte=now
    ).update(
        state=OutboxState.SENDING, phase=SendPhase.CONNECTING, attempt_token=token,
        attempts=F("attempts") + 1, sending_started_at=now,
    )
    return token if done else None


def _held(outbox_id: int, token: str) -> Any:
    return Outbox.objects.filter(pk=outbox_id, state=OutboxState.SENDING,
                                 attempt_token=token)


def enter_transaction(outbox_id: int, token: str) -> bool:
    """Recorded right before MAIL FROM: from here on, a dead worker means "uncertain"."""
    return bool(_held(outbox_id, token).update(phase=SendPhase.TRANSACTION))


def _results(result: SendResult) -> list[dict[str, object]]:
    return [{"address": r.address, "accepted": r.accepted, "code": r.code,
             "message": r.message} for r in result.recipients]


def record_sent(outbox_id: int, token: str, result: SendResult, *, sent_copy: str) -> bool:
    refused = result.refused
    note = ""
    if refused:
        note = "Not delivered to: " + "; ".join(
            f"{r.address} ({r.code} {r.message})" for r in refused)
    now = timezone.now()
    return bool(_held(outbox_id, token).update(
        state=OutboxState.SENT, phase=SendPhase.NONE, sent_at=now, finished_at=now,
        recipient_results=_results(result), last_error=note, error_code=None,
        sent_copy=sent_copy,
    ))


def retry_delay(attempts: int) -> float:
    base = conf.get("WEBMAIL_SEND_RETRY_BASE_SECONDS")
    ceiling = conf.get("WEBMAIL_SEND_RETRY_MAX_SECONDS")
    return float(min(ceiling, base * 2 ** max(0, attempts - 1)))


def record_temporary_failure(outbox_id: int, token: str, error: str,
                             code: int | None = None) -> datetime | None:
    """Back to queued with the next try after the backoff; failed once the give-up time
    (counted from when it was queued) would pass. Returns the next attempt time."""
    row = _held(outbox_id, token).first()
    if row is None:
        return None
    now = timezone.now()
    at = now + timedelta(seconds=retry_delay(row.attempts))
    give_up = row.created_at + timedelta(seconds=conf.get("WEBMAIL_SEND_GIVE_UP_SECONDS"))
    if at > give_up:
        record_failure(outbox_id, token,
                       f"Gave up after {row.attempts} attempts: {error}", code)
        return None
    _held(outbox_id, token).update(
        state=OutboxState.QUEUED, phase=SendPhase.NONE, attempt_token="",
        next_attempt_at=at, last_error=error, error_code=code,
    )
    return at


def record_failure(outbox_id: int, token: str, error: str, code: int | None = None,
                   results: list[dict[str, object]] | None = None) -> bool:
    fields: dict[str, Any] = {
        "state": OutboxState.FAILED, "phase": SendPhase.NONE, "finished_at": timezone.now(),
        "last_error": error, "error_code": code,
    }
    if results is not None:
        fields["recipient_results"] = results
    return bool(_held(outbox_id, token).update(**fields))


def record_uncertain(outbox_id: int, token: str, reason: str) -> bool:
    return bool(_held(outbox_id, token).update(
        state=OutboxState.UNCERTAIN, last_error=reason, finished_at=timezone.now()))


UNCERTAIN_REASON = (
    "The worker sending this message stopped in the middle of the conversation with "
    "the mail server, so it may or may not have been sent. Check with a recipient "
    "(or your Sent folder), then send it again or mark it as sent."
)


def recover_stale() -> tuple[int, int]:
    """Rows a dead worker left in "sending": requeue those that never reached the
    server, mark the others uncertain. Returns (requeued, uncertain)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=conf.get("WEBMAIL_SEND_STALE_SECONDS"))
    stale = Outbox.objects.filter(state=OutboxState.SENDING, sending_started_at__lt=cutoff)
    requeued = stale.filter(phase=SendPhase.CONNECTING).update(
        state=OutboxState.QUEUED, phase=SendPhase.NONE, attempt_token="",
        next_attempt_at=now)
    uncertain = stale.exclude(phase=SendPhase.CONNECTING).update(
        state=OutboxState.UNCERTAIN, phase=SendPhase.NONE, attempt_token="",
        last_error=UNCERTAIN_REASON, finished_at=now)
    return requeued, uncertain


def wait_for_reconnect(outbox_id: int, token: str, reason: str) -> bool:
    """Back to queued, the attempt not counted: the account's OAuth2 grant is gone and
    due_ids() skips it until the person reconnects (then it goes at once)."""
    return bool(_held(outbox_id, token).update(
        state=OutboxState.QUEUED, phase=SendPhase.NONE, attempt_token="",
        attempts=F("attempts") - 1, last_error=reason))


def due_ids(limit: int = DISPATCH_BATCH) -> list[int]:
    return list(
        Outbox.objects.filter(state=OutboxState.QUEUED, next_attempt_at__lte=timezone.now())
        .exclude(account__reconnect_needed=True)
        .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    )


def dispatch_due(enqueue: Callable[[int, float], None] = _enqueue) -> int:
    """Beat's pass: recover stale rows, then hand every due row to a worker (the claim
    makes a duplicate hand-out harmless)."""
    recover_stale()
    ids = due_ids()
    for outbox_id in ids:
        enqueue(outbox_id, 0)
    return len(ids)


def resolve_uncertain(outbox: Outbox, *, resend: bool) -> bool:
    """The person's decision about an uncertain row: send again now, or call it sent."""
    now = timezone.now()
    rows = Outbox.objects.filter(pk=outbox.pk, state=OutboxState.UNCERTAIN)
    if resend:
        done = rows.update(state=OutboxState.QUEUED, next_attempt_at=now, last_error="",
                           finished_at=None)
        if done:
            outbox_id = outbox.pk
            transaction.on_commit(lambda: _enqueue(outbox_id, 0))
        return bool(done)
    return bool(rows.update(state=OutboxState.SENT, sent_at=now,
                            sent_copy=SentCopyState.NONE))


def retry_failed(outbox: Outbox) -> bool:
    """A failed message sent again on the person's request (after fixing settings)."""
    now = timezone.now()
    done = Outbox.objects.filter(pk=outbox.pk, state=OutboxState.FAILED).update(
        state=OutboxState.QUEUED, next_attempt_at=now, created_at=now, finished_at=None)
    if done:
        outbox_id = outbox.pk
        transaction.on_commit(lambda: _enqueue(outbox_id, 0))
    return bool(done)
