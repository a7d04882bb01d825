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
columns, exactly as the triggers would have; rows given with `add_row` go in with the
values computed in Python (index_text.fts_row, from the values just written and the
search text a parsing worker spaced), which skips the SQL functions and json_each per
row: about half of the index's cost in the writer thread (a /tmp script on a bench
database: 113 against 233 us a row). PostgreSQL keeps its triggers (per-row there is
not the bottleneck): the list is simply ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from webmail.search import schema
from webmail.search.index_text import FtsRow, fts_row

# The per-row triggers a batch replaces: inserts (POP3) and updates (IMAP bodies).
# The delete trigger stays: deleting rows is rare and keeps the index consistent.
_TRIGGERS = ("search_fts_insert", "search_fts_update")
# SQLite's default limit on bound variables is 32,766; ids go in chunks well below it.
_CHUNK = 500
# Header-only rows indexed per transaction by index_missing_header_rows.
_CATCH_UP_ROWS = 1000


# Our own column names; the values are parameters.
_INSERT_ROW = f"INSERT INTO search_fts (rowid, {schema.FTS_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608, E501


class IndexQueue(list[int]):
    """Ids of the messages to index when the transaction ends, and the index rows
    already computed for some of them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, FtsRow] = {}

    def add_row(self, pk: int, values: Mapping[str, Any], *, search_text: str,
                spaced_search_text: str | None) -> None:
        """Index message `pk` from the column values it was written with (attnames,
        cleaned), `search_text` being spaced already (by a parsing worker); its stored
        columns are read instead where Python cannot say."""
        self.append(pk)
        if (spaced_search_text is None or connection.vendor != "sqlite"
                or values.get("search_text") != search_text):
            return
        row = fts_row(values["subject"], values["from_name"], values["from_address"],
                      values["to"], values["cc"], spaced_search_text,
                      values["attachment_names"])
        if row is not None:
            self.rows[pk] = row


def _create_statements() -> dict[str, str]:
    found = {}
    for statement in schema.SQLITE_INSTALL:
        for name in _TRIGGERS:
            if statement.startswith(f"CREATE TRIGGER {name} "):
                found[name] = statement
    return found


@contextmanager
def search_index_in_bulk() -> Iterator[IndexQueue]:
    """A transaction in which the message ids appended to the yielded list are indexed
    once, in bulk, at its end (SQLite), instead of by a trigger per written row."""
    ids = IndexQueue()
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
            cursor.executemany(_INSERT_ROW, [(pk, *ids.rows[pk]) for pk in pending
                                             if pk in ids.rows])
            rest = [pk for pk in pending if pk not in ids.rows]
            for start in range(0, len(rest), _CHUNK):
                chunk = rest[start:start + _CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
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
