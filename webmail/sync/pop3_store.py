"""Writing downloaded POP3 messages into the store, a batch per transaction.

A message and its Pop3Uidl row commit together: once the UIDL is in the database the
message is too, so a later session never fetches it again and may delete it upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from accounts.models import MailAccount
from webmail.mail.ingest import attachment_rows, body_fields, envelope_fields
from webmail.mail.models import Attachment, Folder, Message, Pop3Uidl
from webmail.mail.rows import RowInsert, clean
from webmail.mail.search_batch import search_index_in_bulk
from webmail.mail.threading import (
    apply_renames,
    assign_thread_keys_for_batch,
    keys_before_insert,
)
from webmail.parsing.mime import ParsedMessage
from webmail.sync.imap_prepare import Prepared
from webmail.sync.imap_prepare import prepare as prepare_raw
from webmail.sync.imap_store import put_blobs

# SQLite allows 32,766 bound variables per statement; stay far below for IN (...) lists.
IN_CHUNK = 500


@dataclass(frozen=True)
class Downloaded:
    """One message as RETR returned it, hashed, compressed and parsed (see
    imap_prepare.prepare, which may run in a worker process), waiting for its batch."""

    uidl: str
    prepared: Prepared

    @property
    def size(self) -> int:
        return self.prepared.size

    @property
    def parsed(self) -> ParsedMessage:
        return self.prepared.parsed


def prepare(uidl: str, raw: bytes, received_at: datetime) -> Downloaded:
    # POP3 has no INTERNALDATE: the time we received it stands in for a missing Date.
    return Downloaded(uidl=uidl, prepared=prepare_raw(raw, received_at))


def store_batch(
    account: MailAccount,
    inbox: Folder,
    batch: list[Downloaded],
    *,
    synthetic: bool,
    now: Callable[[], datetime],
) -> int:
    """Store messages and their UIDLs in one transaction; returns how many were new.

    UIDLs already recorded (a server listing the same id twice, or another sync that
    got there first) are skipped, so a message is never stored twice.
    """
    with search_index_in_bulk() as index_ids:
        seen = set(
            Pop3Uidl.objects.filter(account=account, uidl__in=[d.uidl for d in batch])
            .values_list("uidl", flat=True)
        )
        fresh: list[Downloaded] = []
        for item in batch:
            if item.uidl not in seen:
                seen.add(item.uidl)
                fresh.append(item)
        if not fresh:
            return 0
        received_at = now()
        put_blobs([item.prepared for item in fresh])
        envelopes = [envelope_fields(item.parsed, size=item.size) for item in fresh]
        # Thread keys chosen before the insert and written with the rows, as the IMAP
        # headers phase does: reading the batch back to key it was 14% of the writer.
        keys, renames = keys_before_insert(account.pk, envelopes)
        values = [
            {**{name: clean(value) for source in (envelope, body_fields(item.parsed))
                for name, value in source.items()},
             "account_id": account.pk, "folder_id": inbox.pk, "internal_date": received_at,
             "blob_id": item.prepared.sha256, "thread_key": key}
            for item, envelope, key in zip(fresh, envelopes, keys, strict=True)
        ]
        ids = RowInsert(Message).insert_returning_ids(values)
        apply_renames(account.pk, renames)
        for pk, item, row in zip(ids, fresh, values, strict=True):
            index_ids.add_row(pk, row, search_text=item.parsed.search_text,
                              spaced_search_text=item.prepared.spaced_search_text)
        attachments: list[Attachment] = []
        for pk, item in zip(ids, fresh, strict=True):
            attachments.extend(attachment_rows(pk, item.parsed))
        Attachment.objects.bulk_create(attachments)
        RowInsert(Pop3Uidl).insert_many([
            {"account_id": account.pk, "uidl": item.uidl, "synthetic": synthetic,
             "message_id": pk, "downloaded_at": received_at}
            for pk, item in zip(ids, fresh, strict=True)
        ])
        # Rows without a Message-ID: their keys are made from their ids.
        assign_thread_keys_for_batch(
            account.pk, [pk for pk, key in zip(ids, keys, strict=True) if not key])
        Folder.objects.filter(pk=inbox.pk).update(
            total_count=F("total_count") + len(fresh),
            unread_count=F("unread_count") + len(fresh),
        )
    return len(fresh)


@dataclass(frozen=True)
class KnownUidl:
    pk: int
    downloaded_at: datetime
    deleted_upstream: bool


def known_uidls(account: MailAccount) -> dict[str, KnownUidl]:
    """Every UIDL this account downloaded (tens of bytes each; 100,000 are a few MB)."""
    rows = Pop3Uidl.objects.filter(account=account).values_list(
        "uidl", "pk", "downloaded_at", "deleted_upstream_at"
    )
    return {
        uidl: KnownUidl(pk=pk, downloaded_at=downloaded_at, deleted_upstream=deleted is not None)
        for uidl, pk, downloaded_at, deleted in rows.iterator(chunk_size=2000)
    }


def mark_deleted_upstream(pks: Iterable[int], when: datetime) -> int:
    """Record that the server no longer holds these messages."""
    pending = list(pks)
    done = 0
    for start in range(0, len(pending), IN_CHUNK):
        done += Pop3Uidl.objects.filter(
            pk__in=pending[start : start + IN_CHUNK], deleted_upstream_at__isnull=True
        ).update(deleted_upstream_at=when)
    return done
