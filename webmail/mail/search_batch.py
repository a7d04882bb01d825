"""Fill the SQLite search index once per stored batch instead of once per row.

The search triggers (webmail/search/schema.py) index every written mail_message row.
On SQLite, a sync batch's UPDATE ran the FTS5 update trigger per row, a delete and an
insert of index rows interleaved, which took ~5 ms a message: about half of a first
sync's bodies phase (profiled with py-spy and cProfile, bench/README.md). The same rows
indexed with one DELETE and one INSERT ... SELECT in rowid order take ~2 ms a message.

Inside `search_index_in_bulk()` the row triggers are dropped in the caller's transaction
and created again, from the search schema's own statements, before it commits; other
connections never see them missing (DDL is transactional in SQLite and writers are
serialised), and a rollback or a killed process restores them with everything else.
Rows whose ids are added to the yielded list are indexed at the end, from their stored
columns, exactly as the triggers would have. PostgreSQL keeps its triggers (per-row
there is not the bottleneck): the list is simply ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, transaction

from webmail.search import schema

# The per-row triggers a batch replaces: inserts (POP3) and updates (IMAP bodies).
# The delete trigger stays: deleting rows is rare and keeps the index consistent.
_TRIGGERS = ("search_fts_insert", "search_fts_update")
# SQLite's default limit on bound variables is 32,766; ids go in chunks well below it.
_CHUNK = 500
# Header-only rows indexed per transaction by index_missing_header_rows.
_CATCH_UP_ROWS = 1000


def _create_statements() -> dict[str, str]:
    found = {}
    for statement in schema.SQLITE_INSTALL:
        for name in _TRIGGERS:
            if statement.startswith(f"CREATE TRIGGER {name} "):
                found[name] = statement
    return found


@contextmanager
def search_index_in_bulk() -> Iterator[list[int]]:
    """A transaction in which the message ids appended to the yielded list are indexed
    once, in bulk, at its end (SQLite), instead of by a trigger per written row."""
    ids: list[int] = []
    with transaction.atomic():
        if connection.vendor != "sqlite":
            yield ids
            return
        statements = _create_statements()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
                list(_TRIGGERS))
            present = {name for (name,) in cursor.fetchall()}
            # Only triggers we can create again are dropped (a changed schema keeps its
            # own triggers and this is then a plain transaction).
            dropped = [name for name in _TRIGGERS if name in present and name in statements]
            for name in dropped:
                cursor.execute(f"DROP TRIGGER {name}")
        yield ids
        if not dropped:
            return
        with connection.cursor() as cursor:
            pending = sorted(set(ids))
            for start in range(0, len(pending), _CHUNK):
                chunk = pending[start:start + _CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", chunk)  # noqa: S608
                # In rowid order: FTS5 appends to its pending segment without flushing.
                cursor.execute(schema.SQLITE_INDEX_ROWS.format(
                    where=f"m.id IN ({marks}) ORDER BY m.id"), chunk)
            for name in dropped:
                cursor.execute(statements[name])


def index_missing_header_rows(folder_ids: Sequence[int]) -> int:
    """Index the header-only rows of these folders that the SQLite index lacks.

    The IMAP headers phase writes its rows without indexing them, so the message list
    is there sooner (~0.5 s of 10,000 envelopes' trigram inserts off its path, then), and
    calls this once the list is in: search finds those messages by subject and sender
    a moment later, before their bodies arrive. Idempotent: a sync killed between the
    two finds the rows here on its next run. One transaction per chunk, so other
    writers (a person's actions) wait for one chunk at most. Returns the count.
    """
    if connection.vendor != "sqlite" or not folder_ids:
        return 0
    marks = ", ".join(["%s"] * len(folder_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM mail_message AS m WHERE m.folder_id IN ({marks}) "  # noqa: S608
            "AND m.body_state = %s "
            "AND NOT EXISTS (SELECT 1 FROM search_fts AS f WHERE f.rowid = m.id) "
            "ORDER BY m.id", [*folder_ids, "headers"])
        missing = [row_id for (row_id,) in cursor.fetchall()]
    for start in range(0, len(missing), _CATCH_UP_ROWS):
        with search_index_in_bulk() as indexed:
            indexed.extend(missing[start:start + _CATCH_UP_ROWS])
    return len(missing)
