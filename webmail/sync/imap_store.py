"""IMAP sync's writes to the store: idempotent upserts keyed on (folder, uidvalidity, uid).

Every function here commits one batch in one transaction, and applying the same batch
twice ends in the same state: that is what lets a killed sync simply run again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, DateTimeField, Field, JSONField, Q
from django.utils import timezone

from accounts.models import MailAccount
from webmail.mail import blobs
from webmail.mail.ingest import attachment_rows, body_fields, envelope_fields
from webmail.mail.models import (
    Attachment,
    BodyState,
    Folder,
    Message,
    OperationState,
    UpstreamOperation,
)
from webmail.mail.rows import clean
from webmail.mail.search_batch import search_index_in_bulk
from webmail.mail.threading import assign_thread_keys
from webmail.parsing.mime import ParsedMessage
from webmail.protocols.imap import FlagRecord, HeaderRecord
from webmail.sync.imap_prepare import Prepared

# SQLite allows 32,766 bound variables per statement; stay far below for IN (...) lists.
IN_CHUNK = 500
SYSTEM_FLAGS = {
    "\\seen": "is_seen",
    "\\flagged": "is_flagged",
    "\\answered": "is_answered",
    "\\draft": "is_draft",
    "\\deleted": "is_deleted",
}
FLAG_FIELDS = [*SYSTEM_FLAGS.values(), "keywords", "modseq"]
BODY_FIELDS = ["blob", "size", "snippet", "has_attachments", "attachment_names", "search_text",
               "parse_warnings", "body_state", "message_id", "in_reply_to", "references",
               "subject", "from_name", "from_address", "to", "cc", "date"]


def _fields(*sources: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v) for source in sources for k, v in source.items()}


def flag_columns(flags: Iterable[str]) -> dict[str, Any]:
    columns: dict[str, Any] = dict.fromkeys(SYSTEM_FLAGS.values(), False)
    keywords = []
    for flag in flags:
        field = SYSTEM_FLAGS.get(flag.lower())
        if field:
            columns[field] = True
        else:
            keywords.append(flag)
    columns["keywords"] = sorted(keywords)
    return columns


def message_flags(message: Message) -> set[str]:
    """The IMAP flag set a stored message stands for (tests compare it with the server)."""
    names = {"is_seen": "\\Seen", "is_flagged": "\\Flagged", "is_answered": "\\Answered",
             "is_draft": "\\Draft", "is_deleted": "\\Deleted"}
    return {flag for field, flag in names.items() if getattr(message, field)} | set(
        message.keywords)


def local_uids(folder: Folder, uidvalidity: int, *, above: int = 0) -> set[int]:
    rows = Message.objects.filter(folder=folder, uidvalidity=uidvalidity, uid__gt=above)
    return {int(uid or 0) for uid in rows.values_list("uid", flat=True).iterator(chunk_size=5000)}


def insert_headers(account: MailAccount, folder: Folder, uidvalidity: int,
                   records: Sequence[HeaderRecord], parsed: Sequence[ParsedMessage]) -> int:
    """Create rows for newly seen messages (envelope and flags); existing ones are kept."""
    rows = [
        Message(
            account=account, folder=folder, uidvalidity=uidvalidity, uid=record.uid,
            modseq=record.modseq, internal_date=record.internal_date,
            body_state=BodyState.HEADERS,
            **_fields(flag_columns(record.flags), envelope_fields(result, size=record.size)),
        )
        for record, result in zip(records, parsed, strict=True)
    ]
    with transaction.atomic():
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        # ignore_conflicts returns no ids: key the account's unkeyed rows (this batch).
        assign_thread_keys(account.pk)
    return len(rows)


def put_blobs(items: Sequence[Prepared]) -> None:
    """Store a batch of prepared messages' raw bytes (compressed in the workers, whose
    files the workers may have written already: then only their rows are added)."""
    blobs.put_compressed(
        (item.sha256, item.size, item.compressed) for item in items if not item.written)
    blobs.record_written(
        (item.sha256, item.size, item.stored_size) for item in items if item.written)


def store_bodies(items: Sequence[tuple[int, Prepared]]) -> None:
    """Fill blob and parsed fields of messages whose raw bytes arrived; one transaction."""
    if not items:
        return
    with search_index_in_bulk() as index_ids:
        put_blobs([prepared for _pk, prepared in items])
        values: list[tuple[int, dict[str, Any]]] = []
        attachments: list[Attachment] = []
        for pk, prepared in items:
            fields = _fields(envelope_fields(prepared.parsed, size=prepared.size),
                             body_fields(prepared.parsed))
            fields["blob_id"] = prepared.sha256
            values.append((pk, fields))
            attachments.extend(attachment_rows(pk, prepared.parsed))
            index_ids.add_row(pk, fields, search_text=prepared.parsed.search_text,
                              spaced_search_text=prepared.spaced_search_text)
        _update_values(values, BODY_FIELDS)
        Attachment.objects.filter(message_id__in=[pk for pk, _ in items]).delete()
        Attachment.objects.bulk_create(attachments)


def _update_values(rows: Sequence[tuple[int, dict[str, Any]]], fields: Sequence[str]) -> None:
    """UPDATE ... WHERE id = ? for each (pk, {attname: value}) pair, with executemany.

    Django's bulk_update builds one CASE WHEN per field over the whole batch, which took
    20 ms a row here (profiled); executemany of one prepared statement takes well under
    1 ms. Only JSON and date values go through their field's conversion (strings,
    numbers, booleans and ids go to the driver as they are, as in rows.RowInsert):
    building a Message per row and preparing every value was a tenth of the writer
    thread's time in a first sync (py-spy).
    """
    if not rows:
        return
    model_fields: list[Field[Any, Any]] = [
        field for field in Message._meta.concrete_fields if field.name in fields]
    convert = [(f, f.attname, isinstance(f, JSONField | DateTimeField)) for f in model_fields]
    quote = connection.ops.quote_name
    # Only our own model's column names, quoted by the backend; values are parameters.
    columns = ", ".join(f"{quote(str(f.column))} = %s" for f in model_fields)
    sql = f"UPDATE {quote(Message._meta.db_table)} SET {columns} WHERE {quote('id')} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(values[name], connection) if needs else values[name]
         for f, name, needs in convert] + [pk]
        for pk, values in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _update_rows(rows: Sequence[Message], fields: Sequence[str]) -> None:
    """_update_values from model instances."""
    names = [f.attname for f in Message._meta.concrete_fields if f.name in fields]
    _update_values([(int(row.pk), {n: getattr(row, n) for n in names}) for row in rows],
                   fields)


def mark_failed(pks: Sequence[int]) -> None:
    """Messages the server would not give us (gone or refused): listed, marked failed."""
    Message.objects.filter(pk__in=list(pks), body_state=BodyState.HEADERS).update(
        body_state=BodyState.FAILED)


def messages_with_pending_operations(account: MailAccount) -> set[int]:
    """Local messages a queued operation still has to carry upstream (see mail.actions:
    arguments["messages"] = [{"id": pk, ...}]). Their local flags are the person's newer
    intent: a sync must not put the server's older flags back before the replay."""
    ids: set[int] = set()
    pending = UpstreamOperation.objects.filter(account=account, state=OperationState.PENDING)
    for arguments in pending.values_list("arguments", flat=True):
        refs = arguments.get("messages") if isinstance(arguments, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict) and isinstance(ref.get("id"), int):
                ids.add(ref["id"])
    return ids


def apply_flags(folder: Folder, uidvalidity: int, records: Sequence[FlagRecord]) -> int:
    """Bring local flags to the server's; returns how many messages changed."""
    if not records:
        return 0
    protected = messages_with_pending_operations(folder.account)
    # Labels the server refused here live only in our store: the server's flags never
    # carry them, so they are kept rather than read as removed.
    local_only = {k.lower() for k in Folder.objects.filter(pk=folder.pk).values_list(
        "local_keywords", flat=True).first() or []}
    changed = 0
    for start in range(0, len(records), IN_CHUNK):
        chunk = {r.uid: r for r in records[start:start + IN_CHUNK]}
        rows = Message.objects.filter(folder=folder, uidvalidity=uidvalidity,
                                      uid__in=list(chunk)).only("pk", "uid", *FLAG_FIELDS)
        updates = []
        for message in rows:
            if message.pk in protected:
                continue
            record = chunk[int(message.uid or 0)]
            wanted = flag_columns(record.flags)
            if local_only:
                kept = [k for k in message.keywords if k.lower() in local_only]
                wanted["keywords"] = sorted(set(wanted["keywords"]) | set(kept))
            if record.modseq is not None:
                wanted["modseq"] = record.modseq
            if any(getattr(message, k) != v for k, v in wanted.items()):
                for k, v in wanted.items():
                    setattr(message, k, v)
                updates.append(message)
        if updates:
            with transaction.atomic():
                _update_rows(updates, FLAG_FIELDS)
            changed += len(updates)
    return changed


def delete_uids(folder: Folder, uidvalidity: int, uids: Iterable[int]) -> int:
    """Remove messages the server expunged (rows a local action moved here stay)."""
    pending = sorted(set(uids))
    deleted = 0
    for start in range(0, len(pending), IN_CHUNK):
        with transaction.atomic():
            deleted += Message.objects.filter(
                folder=folder, uidvalidity=uidvalidity, uid__in=pending[start:start + IN_CHUNK]
            ).delete()[1].get("mail.Message", 0)
    return deleted


def rebuild_folder(folder: Folder, uidvalidity: int) -> int:
    """UIDVALIDITY changed: drop the old generation's messages and start over.

    Rows without a UID (a local move waiting for its replay) and every pending
    UpstreamOperation are left alone; the replay resolves those against the new folder.
    """
    with transaction.atomic():
        deleted = Message.objects.filter(folder=folder, uid__isnull=False).exclude(
            uidvalidity=uidvalidity).delete()[1].get("mail.Message", 0)
        Folder.objects.filter(pk=folder.pk).update(
            uidvalidity=uidvalidity, uidnext=None, highestmodseq=None, last_seen_uid=0)
    folder.uidvalidity, folder.uidnext, folder.highestmodseq = uidvalidity, None, None
    folder.last_seen_uid = 0
    return deleted


def refresh_counts(folder: Folder) -> None:
    counts = Message.objects.filter(folder=folder).aggregate(
        total=Count("pk"), unread=Count("pk", filter=Q(is_seen=False)))
    folder.total_count, folder.unread_count = counts["total"], counts["unread"]
    Folder.objects.filter(pk=folder.pk).update(
        total_count=folder.total_count, unread_count=folder.unread_count)


def save_folder_state(folder: Folder, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(folder, name, value)
    Folder.objects.filter(pk=folder.pk).update(last_synced_at=timezone.now(), **fields)
