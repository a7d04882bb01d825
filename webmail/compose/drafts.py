"""Drafts: saved locally on every autosave, copied to the IMAP Drafts folder after.

Each local save bumps `version`; the push (a Celery task) appends the newest version
to Drafts with \\Draft \\Seen, then expunges the previous copy by its UID, and records
the new UID. A push that finds nothing newer does nothing, so autosaves that arrive
faster than pushes collapse into one.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import MailAccount, Protocol, User
from webmail.compose import conf
from webmail.compose.builder import (
    BuiltMessage,
    FilePart,
    OutgoingMessage,
    build_message,
    make_message_id,
)
from webmail.compose.headers import HeaderValueError, Mailbox, parse_mailbox, split_list
from webmail.compose.identities import default_identity, sender_of
from webmail.compose.models import Draft, DraftAttachment, Identity
from webmail.mail import blobs
from webmail.mail.models import Folder, FolderRole
from webmail.parsing.sanitize import sanitize_html
from webmail.protocols.imap import ImapClient
from webmail.sync.connect import imap_client_for

log = logging.getLogger(__name__)

DRAFT_FIELDS = ("to", "cc", "bcc", "subject", "body_html", "body_text", "plain_text")
PUSH_LOCK_SECONDS = 120  # longer than an APPEND of a 25 MB draft on a slow link


def new_draft(*, owner: User, account: MailAccount, identity: Identity | None = None,
              **fields: Any) -> Draft:
    identity = identity or default_identity(account)
    address = identity.address if identity else account.email
    return Draft.objects.create(owner=owner, account=account, identity=identity,
                                message_id=make_message_id(address), **fields)


def clean_html(html: str) -> str:
    """What the editor sends is sanitized like received mail before it is kept: it is
    shown again in our own pages (the editor) and goes to other people."""
    return sanitize_html(html).html if html.strip() else ""


def save_draft(draft: Draft, *, push: bool = True, **fields: Any) -> Draft:
    """One autosave: the fields given, a new version, and a push queued after commit."""
    changes = {name: value for name, value in fields.items() if name in DRAFT_FIELDS}
    if "body_html" in changes:
        changes["body_html"] = clean_html(str(changes["body_html"]))
    identity = fields.get("identity")
    moved = None
    if identity is not None:
        changes["identity"] = identity
        if identity.account_id != draft.account_id:
            # Another account: its Drafts folder gets the copy from now on.
            moved = (draft.account_id, draft.remote_uidvalidity, draft.remote_uid)
            changes.update(account_id=identity.account_id, remote_uid=None,
                           remote_uidvalidity=None, remote_version=0, remote_folder=None)
    with transaction.atomic():
        if moved is not None and moved[2] is not None:
            from webmail.compose.tasks import delete_remote_draft_task

            old = moved
            transaction.on_commit(lambda: delete_remote_draft_task.delay(*old))
        # Only what the person changed, and the version bumped in the database: the
        # push writes the remote_* fields of the same row concurrently.
        Draft.objects.filter(pk=draft.pk).update(
            **changes, version=F("version") + 1, updated_at=timezone.now())
        draft.refresh_from_db()
        if push and draft.account.protocol == Protocol.IMAP:
            draft_id = draft.pk
            transaction.on_commit(lambda: _queue_push(draft_id))
    return draft


def _push_key(draft_id: int) -> str:
    return f"compose:draft-push-scheduled:{draft_id}"


def _queue_push(draft_id: int) -> None:
    """At most one push scheduled per draft: autosaves every few seconds of a draft with
    large attachments must not become an APPEND every few seconds. The push reads the
    newest version when it runs."""
    from webmail.compose.tasks import push_draft_task

    delay = conf.get("WEBMAIL_DRAFT_PUSH_DELAY_SECONDS")
    if delay <= 0:
        push_draft_task.delay(draft_id)
    elif cache.add(_push_key(draft_id), 1, int(delay) + 60):
        push_draft_task.apply_async((draft_id,), countdown=delay)


def _lenient_mailboxes(text: str) -> list[Mailbox]:
    """A draft keeps what the person typed; only well-formed addresses go in its copy."""
    found = []
    for item in split_list(text.replace("\r", " ").replace("\n", " ")):
        try:
            found.append(parse_mailbox(item, field="To"))
        except HeaderValueError:
            continue
    return found


def file_parts(draft: Draft) -> tuple[list[FilePart], list[bytes]]:
    """The draft's attachments as builder parts, and forwarded messages as raw bytes."""
    parts: list[FilePart] = []
    messages: list[bytes] = []
    for attachment in DraftAttachment.objects.filter(draft=draft).order_by("id"):
        data = blobs.get(attachment.blob_id)
        if attachment.content_type == "message/rfc822":
            messages.append(data)
        else:
            parts.append(FilePart(attachment.filename, attachment.content_type, data,
                                  content_id=attachment.content_id, inline=attachment.inline))
    return parts, messages


def outgoing_of(draft: Draft, *, to: list[Mailbox], cc: list[Mailbox], bcc: list[Mailbox],
                with_files: bool = True) -> OutgoingMessage:
    parts, messages = file_parts(draft) if with_files else ([], [])
    sender, reply_to = sender_of(draft.account, draft.identity)
    return OutgoingMessage(
        sender=sender, reply_to=reply_to, to=to, cc=cc, bcc=bcc, subject=draft.subject,
        # In rich mode the plain alternative is always made from the HTML (never a stale
        # plain-text body from an earlier mode switch).
        text=draft.body_text if draft.plain_text else "",
        html=None if draft.plain_text else draft.body_html,
        attachments=parts, attached_messages=messages, in_reply_to=draft.in_reply_to,
        references=draft.references.split(), message_id=draft.message_id,
        date=timezone.now(),
    )


def draft_bytes(draft: Draft) -> BuiltMessage:
    """The IMAP copy: Bcc is kept out as for any message (it is in our store only)."""
    subject = " ".join(draft.subject.split())[:998]
    snapshot = copy.copy(draft)
    snapshot.subject = subject
    try:
        return build_message(outgoing_of(snapshot, to=_lenient_mailboxes(draft.to),
                                         cc=_lenient_mailboxes(draft.cc), bcc=[]))
    except HeaderValueError:
        snapshot.subject = ""
        return build_message(outgoing_of(snapshot, to=[], cc=[], bcc=[]))


def _drafts_remote_name(client: ImapClient, account: MailAccount) -> tuple[Folder | None, str]:
    folder = Folder.objects.filter(account=account, role=FolderRole.DRAFTS,
                                   local_only=False).first()
    if folder is not None and folder.remote_name:
        return folder, folder.remote_name
    for remote in client.list_folders():
        if remote.role == "drafts":
            return folder, remote.remote_name
    client.create_folder("Drafts")
    return folder, "Drafts"


def push_draft(draft_id: int) -> str:
    """Bring the IMAP Drafts copy up to the newest local version."""
    cache.delete(_push_key(draft_id))  # saves from now on schedule the next push
    if not cache.add(f"compose:draft-push:{draft_id}", 1, PUSH_LOCK_SECONDS):
        return "busy"  # another push runs; it re-checks the version when it ends
    try:
        return _push(draft_id)
    finally:
        cache.delete(f"compose:draft-push:{draft_id}")


def _push(draft_id: int) -> str:
    draft = Draft.objects.select_related("account", "identity").filter(pk=draft_id).first()
    if draft is None or draft.version <= draft.remote_version:
        return "current"
    version = draft.version
    raw = draft_bytes(draft).raw
    with imap_client_for(draft.account) as client:
        folder, remote = _drafts_remote_name(client, draft.account)
        appended = client.append(remote, raw, flags=("\\Draft", "\\Seen"))
        old = (draft.remote_uidvalidity, draft.remote_uid)
        if old[1] is not None and appended is not None and old[0] == appended[0]:
            client.select(remote)
            client.set_flags([old[1]], add=["\\Deleted"])
            client.expunge([old[1]])
    Draft.objects.filter(pk=draft_id).update(
        remote_version=version, remote_folder=folder, remote_error="",
        remote_uidvalidity=appended[0] if appended else None,
        remote_uid=appended[1] if appended else None)
    current = Draft.objects.filter(pk=draft_id).values_list("version", flat=True).first()
    if current is not None and current > version:
        return _push(draft_id)  # saved again while we appended
    return "pushed"


def delete_remote_draft(account_id: int, uidvalidity: int | None, uid: int | None) -> None:
    account = MailAccount.objects.filter(pk=account_id).first()
    if account is None or uid is None or account.protocol != Protocol.IMAP:
        return
    with imap_client_for(account) as client:
        _folder, remote = _drafts_remote_name(client, account)
        info = client.select(remote)
        if uidvalidity is not None and info.uidvalidity != uidvalidity:
            return  # the folder was recreated; that UID names another message now
        client.set_flags([uid], add=["\\Deleted"])
        client.expunge([uid])


def discard_draft(draft: Draft) -> None:
    """The draft goes locally now and from the server's Drafts soon after."""
    account_id, uv, uid = draft.account_id, draft.remote_uidvalidity, draft.remote_uid
    with transaction.atomic():
        Draft.objects.filter(pk=draft.pk).delete()
        if uid is not None:
            from webmail.compose.tasks import delete_remote_draft_task

            transaction.on_commit(lambda: delete_remote_draft_task.delay(account_id, uv, uid))
