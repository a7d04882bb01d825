"""Keyset pagination of message lists: no OFFSET, no COUNT, one index range scan a page.

A page is "the next `limit` rows after (key, id)" in a fixed order, where key is the
sort column. The condition is written as `key <= v AND (key < v OR id < i)`: the first
half is a range the index can seek to, the second only filters the rows that tie on v,
so page 2,000 costs what page 1 costs. (An OR of the two alone makes SQLite walk the
index from the top.)

Null dates (rare: POP3 mail without a Date header) cannot sit in a range on both
databases the same way, so they form a second segment listed after every dated row;
a page that crosses from one segment to the next takes one more query.

Lists over several folders (the unified Inbox) run the same query per folder, each an
index scan, and merge the heads in Python.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    CharField,
    Exists,
    Expression,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields import Field
from django.db.models.functions import Coalesce, Lower, NullIf, Substr
from django.db.models.sql.compiler import SQLCompiler

from webmail.mail.models import Message

# Columns the list shows; the rest of a Message (search text, headers) stays in the DB.
LIST_FIELDS = (
    "id", "account_id", "folder_id", "subject", "from_name", "from_address", "snippet",
    "date", "size", "is_seen", "is_flagged", "is_answered", "has_attachments", "thread_key",
    "body_state", "keywords",
)  # fmt: skip
MAX_LIMIT = 200


class Sort(StrEnum):
    DATE = "date"
    SENDER = "sender"
    SUBJECT = "subject"
    SIZE = "size"

    @classmethod
    def parse(cls, value: str | None) -> Sort:
        try:
            return cls(value or cls.DATE)
        except ValueError:
            return cls.DATE


class _Literal(Expression):
    """A constant written into the SQL, not passed as a parameter.

    An expression index is used only when the query's expression is the indexed one
    word for word; `SUBSTR(subject, ?, ?)` is not `SUBSTR(subject, 1, 200)` to SQLite,
    which then sorts the whole folder (200 ms at 20,000 messages instead of 0.2 ms).
    """

    def __init__(self, sql: str, output_field: Field[object, object]) -> None:
        super().__init__(output_field=output_field)
        self.sql = sql

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[()]]:
        return self.sql, ()


# The same expressions are indexed (migration ui_indexes): they must compile to the
# same SQL as the index definitions in models.Message.Meta.
SENDER_KEY = Lower(
    Coalesce(NullIf(F("from_name"), _Literal("''", CharField())), F("from_address"))
)
SUBJECT_KEY = Lower(
    Substr(F("subject"), _Literal("1", IntegerField()), _Literal("200", IntegerField()))
)

# (expression, descending) per sort: dates and sizes newest/largest first, names A-Z.
_ORDER: dict[Sort, tuple[Expression | F, bool]] = {
    Sort.DATE: (F("date"), True),
    Sort.SENDER: (SENDER_KEY, False),
    Sort.SUBJECT: (SUBJECT_KEY, False),
    Sort.SIZE: (F("size"), True),
}


@dataclass(frozen=True)
class Cursor:
    segment: int  # 0: rows with a key; 1: rows whose key is null (dates only)
    key: Any
    id: int

    def encode(self) -> str:
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps([self.segment, key, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, sort: Sort) -> Cursor | None:
        """A cursor from the URL, or None (first page) when it is missing or malformed."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            segment, key, ident = json.loads(raw)
            if sort is Sort.DATE and key is not None:
                key = datetime.fromisoformat(key)
            if segment not in (0, 1) or not isinstance(ident, int):
                return None
            if sort is Sort.SIZE and not isinstance(key, int):
                return None
            if sort in (Sort.SENDER, Sort.SUBJECT) and not isinstance(key, str):
                return None
            return cls(segment=segment, key=key, id=ident)
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            return None


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    next_cursor: str | None
    sort: Sort
    threads: bool = False


def _conversations(qs: QuerySet[Message], segment: int) -> QuerySet[Message]:
    """Keep only the newest message of each conversation (thread_key) in the folder,
    with the conversation's size. Per row this is an index probe on thread_key, so the
    keyset range scan stays a range scan."""
    same_thread = Message.objects.filter(
        folder_id=OuterRef("folder_id"), thread_key=OuterRef("thread_key")
    ).exclude(thread_key="")
    if segment == 0:
        newer = Q(date__gt=OuterRef("date")) | Q(date=OuterRef("date"), id__gt=OuterRef("id"))
    else:  # undated rows come after every dated one
        newer = Q(date__isnull=False) | Q(id__gt=OuterRef("id"))
    # COUNT as a plain function: no GROUP BY, so the count is an index range scan too.
    size = same_thread.annotate(n=Func(F("id"), function="COUNT")).values("n")[:1]
    return qs.filter(~Exists(same_thread.filter(newer))).annotate(
        thread_size=Subquery(size, output_field=IntegerField()))


def _segment_query(
    folder_id: int, sort: Sort, segment: int, cursor: Cursor | None, limit: int,
    threads: bool = False,
) -> list[Message]:
    expression, descending = _ORDER[sort]
    qs: QuerySet[Message] = (
        Message.objects.filter(folder_id=folder_id).only(*LIST_FIELDS).alias(sort_key=expression)
    )
    if threads:
        qs = _conversations(qs, segment)
    if sort is Sort.DATE:
        qs = qs.filter(date__isnull=segment == 1)
    if segment == 1:
        # Only dates are nullable; these rows are ordered by id alone.
        if cursor is not None and cursor.segment == 1:
            qs = qs.filter(id__lt=cursor.id)
        return list(qs.order_by("-id")[:limit])
    if cursor is not None:
        key, ident = cursor.key, cursor.id
        if descending:
            qs = qs.filter(Q(sort_key__lte=key), Q(sort_key__lt=key) | Q(id__lt=ident))
        else:
            qs = qs.filter(Q(sort_key__gte=key), Q(sort_key__gt=key) | Q(id__gt=ident))
    order = ("-sort_key", "-id") if descending else ("sort_key", "id")
    return list(qs.annotate(k=expression).order_by(*order)[:limit])


def _folder_rows(
    folder_id: int, sort: Sort, cursor: Cursor | None, want: int, threads: bool
) -> list[Message]:
    rows: list[Message] = []
    segments = (0, 1) if sort is Sort.DATE else (0,)
    for segment in segments:
        if cursor is not None and cursor.segment > segment:
            continue
        seg_cursor = cursor if cursor is not None and cursor.segment == segment else None
        found = _segment_query(folder_id, sort, segment, seg_cursor, want - len(rows), threads)
        for row in found:
            row.segment = segment  # type: ignore[attr-defined]
        rows.extend(found)
        if len(rows) >= want:
            break
    return rows


def _merge_key(sort: Sort, row: Message) -> tuple[Any, ...]:
    """Python order equal to the database order, for merging several folders' heads."""
    _, descending = _ORDER[sort]
    segment = getattr(row, "segment", 0)
    key = getattr(row, "k", None)
    if segment == 1:
        return (1, 0, -row.pk)
    if descending:
        stamp = key.timestamp() if isinstance(key, datetime) else float(key or 0)
        return (0, -stamp, -row.pk)
    return (0, key, row.pk)


def page_of_messages(
    folder_ids: list[int],
    *,
    sort: Sort = Sort.DATE,
    cursor: str | None = None,
    limit: int = 50,
    threads: bool = False,
) -> MessagePage:
    """One page of the list; `threads` shows each conversation once (its newest message,
    with `thread_size`)."""
    limit = max(1, min(limit, MAX_LIMIT))
    after = Cursor.decode(cursor, sort)
    want = limit + 1  # one more tells whether there is a next page
    rows: list[Message] = []
    for folder_id in folder_ids:
        rows.extend(_folder_rows(folder_id, sort, after, want, threads))
    if len(folder_ids) > 1:
        rows.sort(key=lambda row: _merge_key(sort, row))
    shown = rows[:limit]
    next_cursor = None
    if len(rows) > limit and shown:
        last = shown[-1]
        next_cursor = Cursor(
            segment=getattr(last, "segment", 0), key=getattr(last, "k", None), id=last.pk
        ).encode()
    return MessagePage(messages=shown, next_cursor=next_cursor, sort=sort, threads=threads)
