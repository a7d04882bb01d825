"""Store rows for the UI tests: folders and messages made directly, as a sync would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import MailAccount
from webmail.mail import blobs
from webmail.mail.ingest import store_full_message
from webmail.mail.models import BodyState, Folder, FolderRole, Message

BASE_DATE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_folder(account: MailAccount, name: str = "INBOX", *, role: str = "",
                **fields: Any) -> Folder:
    if not role and name == "INBOX":
        role = FolderRole.INBOX
    return Folder.objects.create(account=account, name=name, role=role, **fields)


def make_message(folder: Folder, *, subject: str = "Hello", minutes: int = 0,
                 **fields: Any) -> Message:
    values: dict[str, Any] = {
        "from_name": "Carol Sender",
        "from_address": "carol@example.test",
        "date": BASE_DATE + timedelta(minutes=minutes),
        "snippet": "A few words of the body",
        "size": 1000,
    }
    values.update(fields)
    message = Message.objects.create(
        account=folder.account, folder=folder, subject=subject, **values
    )
    return message


def make_full_message(folder: Folder, raw: bytes, **fields: Any) -> Message:
    """A message whose raw bytes are stored and parsed, as after a body fetch."""
    message = Message(account=folder.account, folder=folder, **fields)
    message.save()
    store_full_message(message, raw)
    message.refresh_from_db()
    assert message.body_state == BodyState.FULL
    assert message.blob_id
    assert blobs.get(message.blob_id) == raw
    return message


def refresh_counts(folder: Folder) -> Folder:
    folder.total_count = Message.objects.filter(folder=folder).count()
    folder.unread_count = Message.objects.filter(folder=folder, is_seen=False).count()
    folder.save(update_fields=["total_count", "unread_count"])
    return folder
