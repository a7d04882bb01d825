"""After a message is accepted: a copy in Sent (threaded), contacts, the draft gone."""

from __future__ import annotations

import hashlib
import logging

from django.db import transaction

from webmail.compose.contacts import harvest_contacts
from webmail.compose.models import Draft, Outbox, OutboxState, SentCopyState
from webmail.mail import blobs
from webmail.mail.models import Folder, FolderRole, Message
from webmail.parsing.threads import thread_root

log = logging.getLogger(__name__)

THREAD_KEY_LENGTH = 64  # Message.thread_key's width


def thread_key_for(root: str) -> str:
    """Message.thread_key holds 64 characters; longer roots are named by their hash."""
    return root if len(root) <= THREAD_KEY_LENGTH else hashlib.sha256(
        root.encode()).hexdigest()


def assign_thread(message: Message) -> str:
    """Give a stored message the thread key of the conversation it answers."""
    def lookup(mid: str) -> str | None:
        return (Message.objects.filter(account_id=message.account_id, message_id=mid)
                .exclude(thread_key="").values_list("thread_key", flat=True).first())

    root = thread_root(message.message_id, message.in_reply_to,
                       message.references.split(), lookup)
    key = thread_key_for(root) if root else f"local-{message.pk}"
    Message.objects.filter(pk=message.pk).update(thread_key=key)
    # A parent without a key yet (synced before threading) joins the same thread.
    if message.in_reply_to:
        Message.objects.filter(account_id=message.account_id, message_id=message.in_reply_to,
                               thread_key="").update(thread_key=key)
    message.thread_key = key
    return key


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
    assign_thread(message)
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
