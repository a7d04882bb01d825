"""Compose tasks: thin wrappers that take an id, call one function, decide on retry."""

from __future__ import annotations

from celery import shared_task
from celery.app.task import Task

from webmail.compose import drafts, outbox, relay, sent
from webmail.compose.drafts import delete_remote_draft, push_draft
from webmail.protocols.errors import ProtocolError

# Sent copies and draft pushes: 30 s, 1, 2, 4, 8 min; after that the draft is pushed by
# its next save and the sent copy stays "pending" for a person to see.
RETRY_BASE_SECONDS = 30
MAX_RETRIES = 5


@shared_task(acks_late=True)
def relay_task(outbox_id: int) -> str:
    """One send attempt; retries are scheduled on the row (outbox.py), not here."""
    return relay.relay(outbox_id).state


@shared_task
def dispatch_due() -> int:
    """Beat, every few seconds: hand due rows (undo window over, scheduled time reached,
    retry time reached) to workers, sort out rows dead workers left behind, and queue
    again the sent copies, draft pushes and draft removals whose task was lost."""
    copies = sent.forgotten_copy_ids()
    for outbox_id in copies:
        after_send_task.delay(outbox_id)
    pushes = drafts.forgotten_push_ids()
    for draft_id in pushes:
        drafts.redispatch_push(draft_id)
    removals = drafts.take_due_removals()
    for removal_id in removals:
        remove_draft_copy_task.delay(removal_id)
    return outbox.dispatch_due() + len(copies) + len(pushes) + len(removals)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def after_send_task(self: Task[[int], str], outbox_id: int) -> str:
    try:
        return sent.after_send(outbox_id)
    except ProtocolError as exc:
        if exc.temporary:
            raise self.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**self.request.retries
                             ) from exc
        raise


@shared_task(bind=True, max_retries=MAX_RETRIES)
def push_draft_task(self: Task[[int], str], draft_id: int) -> str:
    try:
        return push_draft(draft_id)
    except ProtocolError as exc:
        from webmail.compose.models import Draft

        Draft.objects.filter(pk=draft_id).update(remote_error=str(exc)[:1000])
        if exc.temporary:
            raise self.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**self.request.retries
                             ) from exc
        return "failed"


@shared_task
def remove_draft_copy_task(removal_id: int) -> str:
    """Retries are scheduled on the DraftCopyRemoval row (drafts.py), not here."""
    return drafts.remove_draft_copy(removal_id)


# Kept for tasks queued before DraftCopyRemoval existed; nothing queues it any more.
@shared_task(bind=True, max_retries=MAX_RETRIES)
def delete_remote_draft_task(self: Task[[int, int | None, int | None], None], account_id: int,
                             uidvalidity: int | None, uid: int | None) -> None:
    try:
        delete_remote_draft(account_id, uidvalidity, uid)
    except ProtocolError as exc:
        if exc.temporary:
            raise self.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**self.request.retries
                             ) from exc
