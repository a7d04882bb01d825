"""The headers phase's database work: one INSERT per batch of envelopes.

Django's bulk_create took about 200 us a row (it compiles an expression per value): for
a 10,000-message first sync that was 2 s before the list was complete (profiled, see
bench/README.md). The rows go in as one `INSERT ... ON CONFLICT DO NOTHING` executemany
per batch (rows.RowInsert). The envelopes come from webmail.parsing.envelope (here or in the sync's
parsing workers).

The body phase later overwrites these fields from the whole message, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from accounts.models import MailAccount
from webmail.mail.ingest import envelope_fields
from webmail.mail.models import BodyState, Folder, Message
from webmail.mail.rows import RowInsert, clean
from webmail.mail.search_batch import search_index_in_bulk
from webmail.mail.threading import apply_renames, assign_thread_keys, keys_before_insert
from webmail.parsing.mime import ParsedMessage
from webmail.protocols.imap import HeaderRecord
from webmail.sync.imap_store import flag_columns


def insert_header_rows(account: MailAccount, folder: Folder, uidvalidity: int,
                       records: Sequence[HeaderRecord],
                       parsed: Sequence[ParsedMessage]) -> int:
    """Rows for newly seen messages (envelope and flags), threaded; existing rows are
    kept (the same batch applied twice ends in the same state). One transaction."""
    values = []
    for record, result in zip(records, parsed, strict=True):
        fields = {**flag_columns(record.flags), **envelope_fields(result, size=record.size)}
        fields = {k: clean(v) for k, v in fields.items()}
        fields.update(account_id=account.pk, folder_id=folder.pk, uidvalidity=uidvalidity,
                      uid=record.uid, modseq=record.modseq,
                      internal_date=record.internal_date, body_state=BodyState.HEADERS.value)
        values.append(fields)
    if not values:
        return 0
    insert = RowInsert(Message, ignore_conflicts=True)
    # On SQLite the rows go in without their search index (search_index_in_bulk drops
    # the per-row trigger for the batch and is given no ids): the list shows sooner, and
    # the engine indexes them in bulk once every folder's list is in
    # (search_batch.index_missing_header_rows).
    keys, renames = keys_before_insert(account.pk, values)
    for fields, key in zip(values, keys, strict=True):
        fields["thread_key"] = key
    with search_index_in_bulk():
        insert.insert_many(values)
        apply_renames(account.pk, renames)
        if "" in keys:  # rows without a Message-ID: their keys need their ids
            assign_thread_keys(account.pk)
    return len(values)
