"""Keep or rebuild the index by hand. Triggers (schema.py) keep it in step with every
write to mail_message, so these are for repairs and for a new index format."""

from __future__ import annotations

from django.db import connection, transaction

from webmail.mail.models import Message
from webmail.search import schema

REINDEX_BATCH = 2_000  # messages per statement: bounded transactions, visible progress


def _rows_sql() -> str:
    if connection.vendor == "postgresql":
        return schema.POSTGRES_INDEX_ROWS
    return schema.SQLITE_INDEX_ROWS


def index_message(message_id: int) -> None:
    """(Re)build one message's index entry from its stored fields."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [message_id])
            cursor.execute(schema.SQLITE_INDEX_ROWS.format(where="m.id = %s"), [message_id])
        else:
            cursor.execute(schema.POSTGRES_INDEX_ROWS.format(where="id = %s"), [message_id])


def reindex_all() -> int:
    """Reinstall the index's functions and triggers and rebuild every entry."""
    with transaction.atomic(), connection.cursor() as cursor:
        schema.install(cursor, connection.vendor)
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE search_search_document")
        else:
            cursor.execute("DELETE FROM search_fts")
    ids = Message.objects.order_by("id").values_list("id", flat=True)
    last, done = 0, 0
    id_column = "id" if connection.vendor == "postgresql" else "m.id"
    while True:
        batch = list(ids.filter(id__gt=last)[:REINDEX_BATCH])
        if not batch:
            return done
        with transaction.atomic(), connection.cursor() as cursor:
            where = f"{id_column} >= %s AND {id_column} <= %s"
            cursor.execute(_rows_sql().format(where=where), [batch[0], batch[-1]])
        last, done = batch[-1], done + len(batch)


def optimize_index() -> None:
    """Merge the SQLite FTS5 index into one segment (after a large first sync, or from a
    nightly job): trigger-fed inserts leave many segments, and each query reads them
    all. PostgreSQL's GIN index needs nothing here (autovacuum flushes its pending list).
    """
    if connection.vendor == "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
