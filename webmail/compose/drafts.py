"""Drafts: saved locally on every autosave, copied to the IMAP Drafts folder after.

Each local save bumps `version`; the push (a Celery task) appends the newest version
to Drafts with \\Draft \\Seen, then expunges the previous copy by its UID, and records
the new UID. A push that finds nothing newer does nothing, so autosaves that arrive
faster than pushes collapse into one.

The database says what is still to do, the tasks only say "now" (as for the outbox):
a draft whose `version` is ahead of `remote_version` still needs a push, and a
DraftCopyRemoval row names a remote copy that must go. Both are queued through
webmail.broker, so a save or a discard succeeds while Redis is away, and beat's
dispatch_due queues again the work whose task was lost (forgotten_push_ids,
take_due_removals).
"""

from __future__ import annotations

import contextlib
import copy
import logging
from datetime import timedelta
from typing import Any

import redis
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import MailAccount, Protocol, User
from accounts.oauth.tokens import ReconnectNeeded
from webmail.broker import send_or_leave_to_beat
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
from webmail.compose.models import Draft, DraftAttachment, DraftCopyRemoval, DraftState, Identity
from webmail.mail import blobs
from webmail.mail.models import Folder, FolderRole
from webmail.parsing.sanitize import sanitize_html
from webmail.protocols.errors import ProtocolError
from webmail.protocols.imap import ImapClient
from webmail.sync.connect import imap_client_for

log = logging.getLogger(__name__)

DRAFT_FIELDS = ("to", "cc", "bcc", "subject", "body_html", "body_text", "plain_text")
PUSH_LOCK_SECONDS = 120  # longer than an APPEND of a 25 MB draft on a slow link
# How many lost pushes or removals one dispatch pass queues again; the next takes more.
REDISPATCH_BATCH = 500
# A removal the server refused for now: 1, 2, 4 ... minutes, then hourly (as a server
# away for a day still gets it when back).
REMOVAL_RETRY_BASE_SECONDS = 60
REMOVAL_RETRY_MAX_SECONDS = 3600


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
            remove_remote_copy(account_id=moved[0], uidvalidity=moved[1], uid=moved[2])
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
    newest version when it runs. With Redis away (the cache and the broker) the save
    still succeeds: the draft stays ahead of its copy and beat's dispatch_due pushes it."""
    from webmail.compose.tasks import push_draft_task

    delay = conf.get("WEBMAIL_DRAFT_PUSH_DELAY_SECONDS")
    if delay > 0:
        try:
            if not cache.add(_push_key(draft_id), 1, int(delay) + 60):
                return
        except (redis.RedisError, OSError):
            pass  # no way to collapse pushes now; a second push finds nothing newer
    queued = send_or_leave_to_beat(
        lambda: push_draft_task.apply_async((draft_id,), countdown=max(0.0, delay)),
        task="push_draft", object_id=draft_id)
    if not queued and delay > 0:
        # The next save must be free to try again before the mark would expire.
        with contextlib.suppress(redis.RedisError, OSError):
            cache.delete(_push_key(draft_id))


def forgotten_push_ids(limit: int = REDISPATCH_BATCH) -> list[int]:
    """Open drafts saved after their last push, well after the push should have run,
    whose push was lost (the broker away at save time, a killed worker). A push that
    failed recorded remote_error and retries (or waits for the next save) on its own."""
    grace = conf.get("WEBMAIL_DRAFT_PUSH_DELAY_SECONDS") + conf.get(
        "WEBMAIL_SENT_COPY_GRACE_SECONDS")
    cutoff = timezone.now() - timedelta(seconds=max(0.0, grace))
    return list(Draft.objects.filter(
        state=DraftState.OPEN, account__protocol=Protocol.IMAP, account__enabled=True,
        account__reconnect_needed=False, version__gt=F("remote_version"), remote_error="",
        updated_at__lt=cutoff,
    ).order_by("updated_at", "id").values_list("pk", flat=True)[:limit])


def redispatch_push(draft_id: int) -> None:
    """Beat's hand-out of a lost push (collapsed with any push a save scheduled)."""
    _queue_push(draft_id)


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


def remove_remote_copy(*, account_id: int, uidvalidity: int | None, uid: int) -> int:
    """Record, in the caller's transaction, that this Drafts copy must go; the removal
    is queued after commit. Returns the DraftCopyRemoval id."""
    grace = timedelta(seconds=conf.get("WEBMAIL_SENT_COPY_GRACE_SECONDS"))
    removal = DraftCopyRemoval.objects.create(
        account_id=account_id, uidvalidity=uidvalidity, uid=uid,
        next_attempt_at=timezone.now() + grace)
    removal_id = removal.pk
    transaction.on_commit(lambda: _queue_removal(removal_id))
    return removal_id


def _queue_removal(removal_id: int) -> None:
    from webmail.compose.tasks import remove_draft_copy_task

    send_or_leave_to_beat(lambda: remove_draft_copy_task.delay(removal_id),
                          task="remove_draft_copy", object_id=removal_id)


def take_due_removals(limit: int = REDISPATCH_BATCH) -> list[int]:
    """Removals due now (their task lost, or a retry time reached), each pushed one grace
    period on so the next passes do not hand it out again while its task is queued.
    Accounts waiting to be reconnected are left alone until then."""
    now = timezone.now()
    ids = list(DraftCopyRemoval.objects.filter(next_attempt_at__lte=now)
               .exclude(account__reconnect_needed=True).exclude(account__enabled=False)
               .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if ids:
        grace = timedelta(seconds=conf.get("WEBMAIL_SENT_COPY_GRACE_SECONDS"))
        DraftCopyRemoval.objects.filter(pk__in=ids).update(next_attempt_at=now + grace)
    return ids


def remove_draft_copy(removal_id: int) -> str:
    """Expunge the copy a DraftCopyRemoval names; done when the row is gone. Running it
    twice is harmless (a UID already expunged is not there to remove)."""
    row = DraftCopyRemoval.objects.filter(pk=removal_id).first()
    if row is None:
        return "done"
    try:
        delete_remote_draft(row.account_id, row.uidvalidity, row.uid)
    except ReconnectNeeded as exc:
        # Not the copy's fault: it waits, untried, until the person reconnects.
        DraftCopyRemoval.objects.filter(pk=row.pk).update(last_error=str(exc)[:1000])
        return "waiting"
    except ProtocolError as exc:
        attempts = row.attempts + 1
        delay = min(REMOVAL_RETRY_MAX_SECONDS, REMOVAL_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
        DraftCopyRemoval.objects.filter(pk=row.pk).update(
            attempts=attempts, last_error=str(exc)[:1000],
            next_attempt_at=timezone.now() + timedelta(seconds=delay) if exc.temporary
            else None)
        log.warning("draft copy not removed", extra={
            "removal_id": row.pk, "attempts": attempts, "error": str(exc)})
        return "retry" if exc.temporary else "failed"
    DraftCopyRemoval.objects.filter(pk=row.pk).delete()
    return "done"


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
    with transaction.atomic():
        # The remote fields as they are now: a push may have replaced the copy since
        # `draft` was read.
        remote = Draft.objects.filter(pk=draft.pk).values_list(
            "account_id", "remote_uidvalidity", "remote_uid").first()
        Draft.objects.filter(pk=draft.pk).delete()
        if remote is not None and remote[2] is not None:
            remove_remote_copy(account_id=remote[0], uidvalidity=remote[1], uid=remote[2])
