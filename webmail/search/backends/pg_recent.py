"""PostgreSQL: the newest matches of a common term, from the newest rows.

The GIN index finds a term's messages in no particular order, so the newest of them
come from sorting all of them by date: a word or pair in 70% of 100,000 messages is a
sort of 70,000 rows (~45 ms on the server; bench/search.py, "meeting meeting"). When
most messages match, the newest matches are among the newest few hundred messages, so
walking the folders' (date, id) indexes and testing each row's vector finds them reading a
few hundred vectors instead (~10 ms). Whether a term is that common is measured where
it matters, on the newest rows: a short first walk (PROBE_ROWS) either answers, or
tells whether a longer one (WINDOW_MAX) is likely to; if not, the caller takes the GIN
path. PostgreSQL's own estimate was tried first (EXPLAIN, from the column's statistics):
1-5 ms a query, and it counted a word twice when it is looked up stemmed and as written.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.search import SearchQueryCombinable
from django.db import connection

from webmail.mail.models import Folder, FolderRole, Message
from webmail.search.models import SearchDocument

# Each row read costs a vector read, ~13 µs on the server (bench/search.py): the probe
# costs every search ~1.5 ms, a long walk that falls short ~20 ms.
PROBE_ROWS = 100
WINDOW_MAX = 1_500
# The long walk is tried when the probe's share of matches promises this many times the
# matches needed within WINDOW_MAX rows.
MARGIN = 1.5


def newest_matches(query: SearchQueryCombinable, count: int,
                   account_ids: list[int]) -> list[int] | None:
    """The newest `count` matches of `query` in the accounts, less trash and junk, found
    among the accounts' newest rows; None when they are not found there cheaply."""
    found = newest_in_window(query, count, account_ids, PROBE_ROWS)
    if len(found) >= count:
        return found
    if not worth_walking(len(found), count):
        return None
    found = newest_in_window(query, count, account_ids, WINDOW_MAX)
    return found if len(found) >= count else None


def worth_walking(probe_matches: int, count: int) -> bool:
    """Whether WINDOW_MAX rows likely hold `count` matches, by the probe's share."""
    return probe_matches / PROBE_ROWS * WINDOW_MAX >= count * MARGIN


def newest_in_window(query: SearchQueryCombinable, count: int, account_ids: list[int],
                     window: int) -> list[int]:
    """The newest matches (at most `count`) among the accounts' newest `window` dated
    messages outside trash and junk, newest first.

    Each folder's newest messages come off its (folder, date, id) index, the one the
    message list reads (index-only scans, merged in order). Each is tested on its own
    search row's vector, newest first, until `count` pass. Messages without a date
    sort last in search results, so they are left out here: never among the newest."""
    folders = list(Folder.objects.filter(account_id__in=account_ids)
                   .exclude(role__in=[FolderRole.TRASH, FolderRole.JUNK])
                   .values_list("id", flat=True))
    if not folders:
        return []
    table, message = SearchDocument._meta.db_table, Message._meta.db_table
    check = SearchDocument.objects.filter(vector=query)
    compiler = check.query.get_compiler(connection=connection)
    check_sql, check_params = check.query.where.as_sql(compiler, connection)
    # A LIMIT in each folder's SELECT: without, PostgreSQL 15 appended whole folders and
    # sorted them (100,000 rows, 23 ms); with, it merges the folders' index orders and
    # reads only as far as needed (Merge Append; EXPLAIN ANALYZE on bench/search.py).
    newest = (f"(SELECT id, date FROM {message} "  # noqa: S608
              f"WHERE folder_id = %s AND date IS NOT NULL "
              f"ORDER BY date DESC, id DESC LIMIT %s)")
    union = " UNION ALL ".join([newest] * len(folders))
    sql = (f"SELECT w.id FROM (SELECT id, date FROM ({union}) AS u "  # noqa: S608
           f"ORDER BY date DESC, id DESC LIMIT %s OFFSET 0) AS w "
           f"WHERE (SELECT {check_sql} FROM {table} WHERE {table}.message_id = w.id) "
           f"ORDER BY w.date DESC, w.id DESC LIMIT %s")
    params: list[Any] = []
    for folder in folders:
        params += [folder, window]
    params += [window, *check_params, count]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
