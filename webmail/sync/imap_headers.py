"""The headers phase's database work: one INSERT per batch of envelopes.

Django's bulk_create took about 200 us a row (it compiles an expression per value): for
a 10,000-message first sync that was 2 s before the list was complete (profiled, see
bench/README.md). The rows go in as one `INSERT ... ON CONFLICT DO NOTHING` executemany
per batch. The envelopes come from webmail.parsing.envelope (here or in the sync's
parsing workers).

The body phase later overwrites these fields from the whole message, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, JSONField
from django.utils import timezone

from accounts.models import MailAccount
from webmail.mail.ingest import envelope_fields
from webmail.mail.models import BodyState, Folder, Message
from webmail.mail.search_batch import search_index_in_bulk
from webmail.mail.threading import apply_renames, assign_thread_keys, keys_before_insert
from webmail.parsing.mime import ParsedMessage
from webmail.protocols.imap import HeaderRecord
from webmail.sync.imap_store import flag_columns

_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    """No lone surrogates reach the database (as imap_store._clean)."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        try:  # bytes smuggled through surrogateescape: get them back
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class _Insert:
    """`INSERT INTO mail_message (...) VALUES (...) ON CONFLICT DO NOTHING`, built once.

    Values go through each field's get_db_prep_save (JSON, dates, booleans), so the
    rows are what bulk_create would write; columns no header row sets keep their
    defaults, prepared once.
    """

    def __init__(self) -> None:
        self.fields: list[Field[Any, Any]] = [
            f for f in Message._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        # Only our own model's column names, quoted by the backend; values are parameters.
        self.sql = (f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) "  # noqa: S608
                    f"VALUES ({marks}) ON CONFLICT DO NOTHING")

    def rows(self, values: Sequence[dict[str, Any]]) -> list[list[Any]]:
        now = timezone.now()
        defaults: dict[str, Any] = {}
        for field in self.fields:
            defaults[field.attname] = now if getattr(field, "auto_now_add", False) or \
                getattr(field, "auto_now", False) else field.get_default()
        constant = {f.attname: f.get_db_prep_save(defaults[f.attname], connection)
                    for f in self.fields}
        # Strings, numbers, booleans and ids go to the driver as they are; only JSON and
        # dates need the backend's adapter, called directly: through get_db_prep_save's
        # layers it was a fifth of the headers phase (py-spy). Equal values: tested.
        convert = [(f.attname, _adapter(f)) for f in self.fields]
        return [
            [(row[name] if adapt is None else adapt(row[name]))
             if name in row else constant[name]
             for name, adapt in convert]
            for row in values
        ]


def _adapter(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
    """What get_db_prep_save does to this field's values, without its layers (None: the
    value goes to the driver as it is)."""
    ops = connection.ops
    if isinstance(field, JSONField):
        encoder = field.encoder

        def adapt_json(value: Any) -> Any:
            return None if value is None else ops.adapt_json_value(value, encoder)
        return adapt_json
    if isinstance(field, DateTimeField):
        return ops.adapt_datetimefield_value  # type: ignore[no-any-return]
    return None


def insert_header_rows(account: MailAccount, folder: Folder, uidvalidity: int,
                       records: Sequence[HeaderRecord],
                       parsed: Sequence[ParsedMessage]) -> int:
    """Rows for newly seen messages (envelope and flags), threaded; existing rows are
    kept (the same batch applied twice ends in the same state). One transaction."""
    values = []
    for record, result in zip(records, parsed, strict=True):
        fields = {**flag_columns(record.flags), **envelope_fields(result, size=record.size)}
        fields = {k: _clean(v) for k, v in fields.items()}
        fields.update(account_id=account.pk, folder_id=folder.pk, uidvalidity=uidvalidity,
                      uid=record.uid, modseq=record.modseq,
                      internal_date=record.internal_date, body_state=BodyState.HEADERS.value)
        values.append(fields)
    if not values:
        return 0
    insert = _Insert()
    # On SQLite the rows go in without their search index (search_index_in_bulk drops
    # the per-row trigger for the batch and is given no ids): the list shows sooner, and
    # the engine indexes them in bulk once every folder's list is in
    # (search_batch.index_missing_header_rows).
    keys, renames = keys_before_insert(account.pk, values)
    for fields, key in zip(values, keys, strict=True):
        fields["thread_key"] = key
    with search_index_in_bulk():
        with connection.cursor() as cursor:
            cursor.executemany(insert.sql, insert.rows(values))
        apply_renames(account.pk, renames)
        if "" in keys:  # rows without a Message-ID: their keys need their ids
            assign_thread_keys(account.pk)
    return len(values)
