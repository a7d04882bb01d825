"""The one write path for what a person does to mail: read, flag, move, delete, folders.

Every action changes the local store at once (flag columns, folder, counts) inside one
transaction and, for folders that live on an IMAP server, records an UpstreamOperation
that webmail.sync.operations replays in order; the replay task is queued after commit.
POP3 accounts and local-only folders change only here.

Operation arguments identify messages by what the server knows at the time: the
folder's remote name and UIDVALIDITY plus each message's UID, with the local id and
Message-ID alongside ("refs"), so a message moved locally (UID unknown until the
server says) can still be found by the replay. Callers pass objects they already loaded
through an access helper: these functions do not check who may act.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext
from imapclient import imap_utf7

from accounts.models import MailAccount, Protocol
from webmail.mail.ingest import store_full_message
from webmail.mail.models import (
    Attachment,
    Folder,
    FolderRole,
    Label,
    Message,
    OperationKind,
    UpstreamOperation,
)

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
ANSWERED = "\\Answered"
DRAFT = "\\Draft"
MAX_FOLDER_NAME = 200  # one level; the server may allow more, people never need it


class ActionError(Exception):
    """The action makes no sense as asked; the message is fit to show the person."""


# -- flags -----------------------------------------------------------------------------
def mark_read(*, messages: Iterable[Message]) -> int:
    return _set_flag(messages, column="is_seen", flag=SEEN, value=True)


def mark_unread(*, messages: Iterable[Message]) -> int:
    return _set_flag(messages, column="is_seen", flag=SEEN, value=False)


def flag(*, messages: Iterable[Message]) -> int:
    return _set_flag(messages, column="is_flagged", flag=FLAGGED, value=True)


def unflag(*, messages: Iterable[Message]) -> int:
    return _set_flag(messages, column="is_flagged", flag=FLAGGED, value=False)


def _set_flag(messages: Iterable[Message], *, column: str, flag: str, value: bool) -> int:
    """Set one flag column; returns how many messages changed (others already were)."""
    with transaction.atomic():
        rows = [m for m in _load(messages) if getattr(m, column) != value]
        if not rows:
            return 0
        Message.objects.filter(pk__in=[m.pk for m in rows]).update(**{column: value})
        for folder, group in _by_folder(rows).items():
            if _is_remote(folder):
                _record(folder.account, OperationKind.SET_FLAGS, {
                    **_folder_args(folder),
                    "messages": [_ref(m) for m in group],
                    "add": [flag] if value else [],
                    "remove": [] if value else [flag],
                })
        if column == "is_seen":
            _refresh_counts({m.folder_id for m in rows})
        return len(rows)


# -- labels (IMAP keywords; see webmail.mail.labels) ---------------------------------------
def add_label(*, messages: Iterable[Message], label: Label) -> int:
    return _set_keyword(messages, keyword=label.keyword, value=True)


def remove_label(*, messages: Iterable[Message], label: Label) -> int:
    return _set_keyword(messages, keyword=label.keyword, value=False)


def _set_keyword(messages: Iterable[Message], *, keyword: str, value: bool) -> int:
    """Add or remove one keyword in Message.keywords; IMAP folders queue a STORE of it
    (POP3 and local-only folders keep it here only). Returns how many changed."""
    with transaction.atomic():
        changed: list[Message] = []
        for message in _load(messages):
            has = any(k.lower() == keyword.lower() for k in message.keywords)
            if has == value:
                continue
            message.keywords = (sorted([*message.keywords, keyword]) if value else
                                [k for k in message.keywords if k.lower() != keyword.lower()])
            Message.objects.filter(pk=message.pk).update(keywords=message.keywords)
            changed.append(message)
        for folder, group in _by_folder(changed).items():
            local = {k.lower() for k in folder.local_keywords}
            if _is_remote(folder) and keyword.lower() not in local:
                _record(folder.account, OperationKind.SET_FLAGS, {
                    **_folder_args(folder),
                    "messages": [_ref(m) for m in group],
                    "add": [keyword] if value else [],
                    "remove": [] if value else [keyword],
                })
        return len(changed)


# -- moving, copying, deleting ------------------------------------------------------------
def move_messages(*, messages: Iterable[Message], to_folder: Folder) -> int:
    with transaction.atomic():
        return _move(_load(messages), to_folder, kind=OperationKind.MOVE)


def copy_messages(*, messages: Iterable[Message], to_folder: Folder) -> list[Message]:
    """Copies in `to_folder` (without a UID until the replay or a sync learns it)."""
    with transaction.atomic():
        rows = _load(messages)
        _check_target(rows, to_folder)
        copies: list[Message] = []
        for folder, group in _by_folder(rows).items():
            refs = []
            for message in group:
                copy = _copy_row(message, to_folder)
                copies.append(copy)
                refs.append({**_ref(message), "copy": copy.pk})
            if _is_remote(folder):
                _record(folder.account, OperationKind.COPY, {
                    **_folder_args(folder), **_target_args(to_folder), "messages": refs,
                })
        _refresh_counts({to_folder.pk})
        return copies


def delete_messages(*, messages: Iterable[Message]) -> int:
    """To Trash; from Trash (or where the account has no Trash), deleted for good."""
    with transaction.atomic():
        rows = _load(messages)
        for folder, group in _by_folder(rows).items():
            trash = _trash_of(folder.account)
            if trash is None or folder.pk == trash.pk:
                _expunge(folder, group)
            else:
                _move(group, trash, kind=OperationKind.DELETE)
        return len(rows)


def empty_folder(*, folder: Folder) -> int:
    """Delete every message of Trash or Junk for good; returns how many went."""
    if folder.role not in (FolderRole.TRASH, FolderRole.JUNK):
        raise ActionError(gettext("Only Trash and Junk can be emptied."))
    with transaction.atomic():
        rows = list(Message.objects.filter(folder=folder).select_related("folder__account"))
        if rows:
            _expunge(folder, rows)
        return len(rows)


def _move(rows: list[Message], to_folder: Folder, *, kind: str) -> int:
    _check_target(rows, to_folder)
    rows = [m for m in rows if m.folder_id != to_folder.pk]
    if not rows:
        return 0
    for folder, group in _by_folder(rows).items():
        if _is_remote(folder) != _is_remote(to_folder):
            raise ActionError(gettext("Messages can't move between server and local-only folders."))
        if _is_remote(folder):
            _record(folder.account, kind, {
                **_folder_args(folder), **_target_args(to_folder),
                "messages": [_ref(m) for m in group],
            })
    # The UID belongs to the old folder; the replay (COPYUID) or the next sync of the
    # destination (matching by Message-ID) fills in the new one.
    Message.objects.filter(pk__in=[m.pk for m in rows]).update(
        folder=to_folder, uid=None, uidvalidity=None, modseq=None
    )
    _refresh_counts({m.folder_id for m in rows} | {to_folder.pk})
    return len(rows)


def _expunge(folder: Folder, rows: list[Message]) -> None:
    if _is_remote(folder):
        _record(folder.account, OperationKind.EXPUNGE, {
            **_folder_args(folder), "messages": [_ref(m) for m in rows],
        })
    Message.objects.filter(pk__in=[m.pk for m in rows]).delete()
    _refresh_counts({folder.pk})


def _copy_row(message: Message, to_folder: Folder) -> Message:
    attachments = list(message.attachments.all())
    copy = Message.objects.get(pk=message.pk)
    copy.pk = None
    copy.folder = to_folder
    copy.uid = copy.uidvalidity = copy.modseq = None
    copy.save(force_insert=True)
    for attachment in attachments:
        attachment.pk = None
        attachment.message = copy
    Attachment.objects.bulk_create(attachments)
    return copy


# -- folders -----------------------------------------------------------------------------
def create_folder(*, account: MailAccount, name: str, parent: Folder | None = None) -> Folder:
    with transaction.atomic():
        delimiter = _delimiter_of(account, parent)
        leaf = _clean_leaf(name, delimiter)
        if parent is not None and parent.account_id != account.pk:
            raise ActionError(gettext("The parent folder belongs to another account."))
        full = f"{parent.name}{delimiter}{leaf}" if parent is not None else leaf
        if Folder.objects.filter(account=account, name=full).exists():
            raise ActionError(gettext("A folder named “%(name)s” exists already.") % {"name": full})
        local_only = account.protocol == Protocol.POP3 or bool(parent and parent.local_only)
        folder = Folder.objects.create(
            account=account, name=full, remote_name="" if local_only else wire_name(full),
            delimiter=delimiter, local_only=local_only,
        )
        if _is_remote(folder):
            _record(account, OperationKind.CREATE_FOLDER, {
                "folder_id": folder.pk, "folder_name": full, "folder": folder.remote_name,
            })
        return folder


def rename_folder(*, folder: Folder, new_name: str) -> Folder:
    """Give a folder a new last level (its subfolders follow)."""
    leaf = _clean_leaf(new_name, folder.delimiter or "/")
    if folder.role == FolderRole.INBOX:
        raise ActionError(gettext("The Inbox can't be renamed."))
    with transaction.atomic():
        old = folder.name
        head, sep, _ = old.rpartition(folder.delimiter) if folder.delimiter else ("", "", old)
        new = f"{head}{sep}{leaf}"
        if new == old:
            return folder
        if Folder.objects.filter(account_id=folder.account_id, name=new).exists():
            raise ActionError(gettext("A folder named “%(name)s” exists already.") % {"name": new})
        if _is_remote(folder):
            _record(folder.account, OperationKind.RENAME_FOLDER, {
                "folder_id": folder.pk, "folder_name": old, "folder": folder.remote_name,
                "new_name": new, "new_folder": wire_name(new),
            })
        for sub in _subtree(folder):
            sub.name = new + sub.name[len(old):]
            if not sub.local_only:
                sub.remote_name = wire_name(sub.name)
            sub.save(update_fields=["name", "remote_name"])
        folder.refresh_from_db()
        return folder


def delete_folder(*, folder: Folder) -> None:
    """Delete a folder and its messages (not special folders, nor one with subfolders)."""
    if folder.role:
        raise ActionError(gettext("The %(folder)s folder can't be deleted.")
                          % {"folder": folder.get_role_display()})
    with transaction.atomic():
        if len(_subtree(folder)) > 1:
            raise ActionError(gettext("Delete or move its subfolders first."))
        if _is_remote(folder):
            _record(folder.account, OperationKind.DELETE_FOLDER, {
                "folder_id": folder.pk, "folder_name": folder.name,
                "folder": folder.remote_name,
            })
        folder.delete()


# -- adding a message ----------------------------------------------------------------------
def append_message(
    *,
    folder: Folder,
    raw: bytes,
    seen: bool = True,
    flagged: bool = False,
    draft: bool = False,
    internal_date: datetime | None = None,
) -> Message:
    """Store raw bytes (a draft, an imported message) in `folder` now, upstream later."""
    with transaction.atomic():
        message = Message(
            account_id=folder.account_id, folder=folder, is_seen=seen, is_flagged=flagged,
            is_draft=draft, internal_date=internal_date or timezone.now(),
        )
        store_full_message(message, raw)
        if _is_remote(folder):
            assert message.blob_id is not None  # store_full_message always sets it
            flags = [f for f, on in ((SEEN, seen), (FLAGGED, flagged), (DRAFT, draft)) if on]
            _record(folder.account, OperationKind.APPEND, {
                **_folder_args(folder), "id": message.pk, "mid": message.message_id,
                "blob": message.blob_id, "flags": flags,
                "date": message.internal_date.isoformat() if message.internal_date else None,
            })
        _refresh_counts({folder.pk})
        return message


# -- helpers -------------------------------------------------------------------------------
def wire_name(name: str) -> str:
    """The modified UTF-7 form of a folder name, what the server will list it as."""
    return str(imap_utf7.encode(name).decode("ascii"))


def _is_remote(folder: Folder) -> bool:
    return folder.account.protocol == Protocol.IMAP and not folder.local_only


def _load(messages: Iterable[Message]) -> list[Message]:
    """Fresh rows, locked where the database can, in a stable order."""
    ids = [m.pk for m in messages]
    return list(
        Message.objects.select_for_update(of=("self",))
        .select_related("folder__account")
        .filter(pk__in=ids)
        .order_by("folder_id", "uid", "id")
    )


def _by_folder(rows: Iterable[Message]) -> dict[Folder, list[Message]]:
    groups: dict[int, list[Message]] = defaultdict(list)
    folders: dict[int, Folder] = {}
    for message in rows:
        groups[message.folder_id].append(message)
        folders[message.folder_id] = message.folder
    return {folders[fid]: group for fid, group in groups.items()}


def _check_target(rows: list[Message], to_folder: Folder) -> None:
    if any(m.account_id != to_folder.account_id for m in rows):
        raise ActionError(gettext("Messages can only move or be copied within their account."))
    if not to_folder.selectable:
        raise ActionError(f"“{to_folder.name}” can't hold messages.")


def _ref(message: Message) -> dict[str, Any]:
    """How the replay finds a message upstream: UID if known here, else Message-ID."""
    known = message.uid is not None and message.uidvalidity == message.folder.uidvalidity
    return {"id": message.pk, "uid": message.uid if known else None,
            "mid": message.message_id}


def _folder_args(folder: Folder) -> dict[str, Any]:
    return {"folder_id": folder.pk, "folder_name": folder.name,
            "folder": folder.remote_name, "uidvalidity": folder.uidvalidity}


def _target_args(folder: Folder) -> dict[str, Any]:
    return {"to_id": folder.pk, "to_name": folder.name, "to": folder.remote_name}


def _record(account: MailAccount, kind: str, arguments: dict[str, Any]) -> UpstreamOperation:
    operation = UpstreamOperation.objects.create(account=account, kind=kind,
                                                 arguments=arguments)
    account_id = account.pk
    transaction.on_commit(lambda: _queue_replay(account_id))
    return operation


def _queue_replay(account_id: int) -> None:
    # Imported late: the store (mail) must not import the sync package at load time.
    from webmail.sync.tasks_operations import queue_replay

    queue_replay(account_id)


def _refresh_counts(folder_ids: Iterable[int]) -> None:
    """Recount the folders an action touched (index scans on (folder, is_seen))."""
    ids = set(folder_ids)
    counts = {
        row["folder_id"]: row
        for row in Message.objects.filter(folder_id__in=ids).values("folder_id").annotate(
            total=Count("id"), unread=Count("id", filter=Q(is_seen=False)))
    }
    for folder_id in ids:
        row = counts.get(folder_id, {"total": 0, "unread": 0})
        Folder.objects.filter(pk=folder_id).update(
            total_count=row["total"], unread_count=row["unread"])


def _trash_of(account: MailAccount) -> Folder | None:
    return Folder.objects.filter(account=account, role=FolderRole.TRASH).first()


def _subtree(folder: Folder) -> list[Folder]:
    """The folder and every folder below it."""
    query = Q(pk=folder.pk)
    if folder.delimiter:
        query |= Q(name__startswith=folder.name + folder.delimiter)
    return list(Folder.objects.filter(account_id=folder.account_id).filter(query))


def _delimiter_of(account: MailAccount, parent: Folder | None) -> str:
    if parent is not None and parent.delimiter:
        return parent.delimiter
    known = Folder.objects.filter(account=account).exclude(delimiter="").first()
    return known.delimiter if known is not None else "/"


def _clean_leaf(name: str, delimiter: str) -> str:
    leaf = name.strip()
    if not leaf:
        raise ActionError(gettext("A folder needs a name."))
    if len(leaf) > MAX_FOLDER_NAME:
        raise ActionError(gettext("That folder name is too long."))
    if any(ch in leaf for ch in f"{delimiter}\r\n\x00") or leaf.upper() == "INBOX":
        raise ActionError(gettext("A folder name can't contain “%(delimiter)s” or be “INBOX”.")
                          % {"delimiter": delimiter})
    return leaf
