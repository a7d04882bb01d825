"""After a message is accepted: a copy in Sent (threaded), contacts, the draft gone."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from webmail.compose import conf
from webmail.compose.contacts import harvest_contacts
from webmail.compose.models import Draft, Outbox, OutboxState, SentCopyState
from webmail.mail import blobs
from webmail.mail.models import Folder, FolderRole
from webmail.mail.threading import assign_thread_keys

log = logging.getLogger(__name__)

# How many forgotten sent copies one dispatch pass queues again; the next pass takes more.
REDISPATCH_BATCH = 500


def forgotten_copy_ids(limit: int = REDISPATCH_BATCH) -> list[int]:
    """Sent rows whose copy is still waiting well after the send: their after-send task
    was lost (queued into a broker that restarted, or held by a worker killed with -9).
    Queuing one again is harmless: after_send claims the copy with a conditional UPDATE."""
    cutoff = timezone.now() - timedelta(seconds=conf.get("WEBMAIL_SENT_COPY_GRACE_SECONDS"))
    return list(Outbox.objects.filter(
        state=OutboxState.SENT, sent_copy=SentCopyState.PENDING, sent_at__lt=cutoff,
    ).order_by("id").values_list("pk", flat=True)[:limit])


def sent_folder(account_id: int) -> Folder | None:
    return Folder.objects.filter(account_id=account_id, role=FolderRole.SENT).first()


def file_sent_copy(row: Outbox) -> str:
    """Append the sent bytes to Sent with \\Seen (upstream through the replay)."""
    from webmail.mail.actions import append_message

    folder = sent_folder(row.account_id)
    if folder is None and row.account.protocol == "pop3":
        from webmail.mail.local_folders import ensure_local_folders

        folder = ensure_local_folders(row.account)[FolderRole.SENT]
    if folder is None:
        Outbox.objects.filter(pk=row.pk).update(
            sent_copy=SentCopyState.FAILED,
            sent_copy_error="The account has no Sent folder (yet): sync it first.")
        return SentCopyState.FAILED
    message = append_message(folder=folder, raw=blobs.get(row.blob_id), seen=True)
    assign_thread_keys(row.account_id, [message.pk])
    Outbox.objects.filter(pk=row.pk).update(sent_copy=SentCopyState.DONE, sent_copy_error="")
    return SentCopyState.DONE


def after_send(outbox_id: int) -> str:
    """Idempotent: runs once per row whatever the retries (sent_copy guards it)."""
    row = Outbox.objects.select_related("account").get(pk=outbox_id)
    if row.state != OutboxState.SENT:
        return "not sent"
    result = row.sent_copy
    with transaction.atomic():
        claimed = Outbox.objects.filter(pk=row.pk, sent_copy=SentCopyState.PENDING).update(
            sent_copy=SentCopyState.NONE)  # ours now; DONE or FAILED below
        if claimed:
            result = file_sent_copy(row)
    harvest_contacts(owner=row.owner_id, people=[
        (str(r.get("name", "")), str(r["address"])) for r in row.recipient_results
        if r.get("accepted")])
    if row.draft_id is not None:
        from webmail.compose.drafts import discard_draft

        draft = Draft.objects.filter(pk=row.draft_id).first()
        if draft is not None:
            discard_draft(draft)
    return result
