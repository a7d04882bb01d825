"""Conversation keys for stored messages, in bulk, across every folder of one account.

JWZ-lite over the store: a message joins the conversation of the first ancestor
(References oldest first, then In-Reply-To) that the account already holds, in any
folder (Sent included, so our own replies link the inbox messages they answer). When
no ancestor is held, the oldest one named is the root, so messages that arrive before
their parent still meet under the parent's key. A message with no ancestor headers
and a reply subject ("Re: ...") joins a conversation with the same normalised
subject within SUBJECT_WINDOW, the way JWZ's last step does.

Message.thread_key is sha1 of the root Message-ID. When a message arrives whose own
key differs from the key its earlier children assumed (sha1 of its id), those
children are re-keyed in one UPDATE: that is how a late parent joins two threads.

Per batch: one query loads the batch, one finds the ancestors already held, one
(only when the batch has reply-subject orphans) looks for subject matches, one bulk
update writes the keys and one (only when a parent joined threads) re-keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When

from webmail.mail.models import Message
from webmail.parsing.threads import (
    MAX_REFERENCES_LOOKED_UP,
    is_reply_subject,
    normalize_subject,
)

# How far back a "Re: subject" without headers looks for its conversation.
SUBJECT_WINDOW = timedelta(days=30)
# Subject matching is a LIKE per orphan: past this many per batch the rest start
# their own threads rather than turning one query into a huge OR.
MAX_SUBJECT_ORPHANS = 50
# Keys per IN (...) list and rows per bulk_update statement (SQLite's variable limit).
UPDATE_BATCH = 400
# Unkeyed rows taken at a time when no ids are given (a first run over a big mailbox):
# bounded memory, and still a handful of queries per few thousand messages.
UNKEYED_CHUNK = 2000


def key_for_root(root_message_id: str) -> str:
    """The thread key of a conversation whose root has this Message-ID."""
    data = root_message_id.encode("utf-8", "replace")
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _local_key(pk: int) -> str:
    # A message without a Message-ID is a conversation of its own.
    return key_for_root(f"local:{pk}")


@dataclass
class _Row:
    pk: int | None  # None: a row about to be inserted (keys_before_insert)
    message_id: str
    in_reply_to: str
    references: list[str]
    subject: str
    date: datetime | None
    key: str = ""


def _ancestors(row: _Row) -> list[str]:
    refs = [ref for ref in row.references if ref and ref != row.message_id]
    if len(refs) > MAX_REFERENCES_LOOKED_UP:
        half = MAX_REFERENCES_LOOKED_UP // 2
        refs = refs[:half] + refs[-half:]
    if row.in_reply_to and row.in_reply_to != row.message_id and row.in_reply_to not in refs:
        refs.append(row.in_reply_to)
    return refs


def _load(account_id: int, message_ids: Sequence[int] | None) -> list[_Row]:
    query = Message.objects.filter(account_id=account_id)
    if message_ids is not None:
        query = query.filter(pk__in=list(message_ids))
    else:
        query = query.filter(thread_key="")
    values = query.order_by("date", "pk").values_list(
        "pk", "message_id", "in_reply_to", "references", "subject", "date"
    )
    if message_ids is None:
        values = values[:UNKEYED_CHUNK]
    return [
        _Row(pk, mid, irt, refs.split(), subject, date)
        for pk, mid, irt, refs, subject, date in values
    ]


def _held_keys(account_id: int, batch: list[_Row]) -> dict[str, str]:
    """Message-ID -> thread key of messages already keyed in the store, outside the batch."""
    wanted: set[str] = set()
    for row in batch:
        wanted.update(_ancestors(row))
        if row.message_id:
            wanted.add(row.message_id)
    if not wanted:
        return {}
    batch_pks = [row.pk for row in batch if row.pk is not None]
    held: dict[str, str] = {}
    found = (
        Message.objects.filter(account_id=account_id, message_id__in=wanted)
        .exclude(thread_key="")
        .exclude(pk__in=batch_pks)
        .order_by("pk")
        .values_list("message_id", "thread_key")
    )
    for message_id, key in found:
        held.setdefault(message_id, key)
    return held


def _subject_matches(account_id: int, orphans: list[_Row]) -> dict[int, str]:
    """Position in `orphans` -> key of an earlier message with the same normalised
    subject in the window."""
    wanted = {at: normalize_subject(row.subject) for at, row in enumerate(orphans)}
    wanted = {at: subject for at, subject in wanted.items() if subject}
    dated = [(at, orphans[at]) for at in wanted if orphans[at].date is not None]
    if not dated:
        return {}
    dates = [row.date for _at, row in dated if row.date is not None]
    conditions = reduce(or_, (Q(subject__icontains=wanted[at]) for at, _row in dated))
    candidates = (
        Message.objects.filter(
            conditions,
            account_id=account_id,
            date__gte=min(dates) - SUBJECT_WINDOW,
            date__lte=max(dates),
        )
        .exclude(thread_key="")
        .exclude(pk__in=[row.pk for _at, row in dated if row.pk is not None])
        .order_by("date", "pk")
        .values_list("subject", "date", "thread_key")
    )
    by_subject: dict[str, list[tuple[datetime, str]]] = {}
    for subject, date, key in candidates:
        if date is None:
            continue
        by_subject.setdefault(normalize_subject(subject), []).append((date, key))
    matches: dict[int, str] = {}
    for at, row in dated:
        assert row.date is not None
        for date, key in by_subject.get(wanted[at], []):
            if row.date - SUBJECT_WINDOW <= date <= row.date:
                matches[at] = key
                break
    return matches


def _resolve(renames: dict[str, str], key: str) -> str:
    seen = {key}
    while key in renames:
        key = renames[key]
        if key in seen:  # a cycle of forged references: stop anywhere stable
            break
        seen.add(key)
    return key


def assign_thread_keys(account_id: int, message_ids: Iterable[int] | None = None) -> int:
    """Fill Message.thread_key for the given messages (default: every unkeyed one of the
    account, UNKEYED_CHUNK at a time), re-keying stored threads a late parent joins.
    Returns how many rows were written, re-keyed rows included."""
    if message_ids is not None:
        return _assign(account_id, _load(account_id, list(message_ids)))
    written = 0
    while batch := _load(account_id, None):
        written += _assign(account_id, batch)
    return written


def _choose_keys(account_id: int, batch: list[_Row]) -> dict[str, str]:
    """Set each row's key (a row to be inserted without a Message-ID keeps "": its key
    needs its id); return the renames of stored threads this batch joins."""
    held = _held_keys(account_id, batch)
    # Inside the batch, earlier messages (by date) are known to later ones as we go.
    known: dict[str, str] = dict(held)
    orphans: list[_Row] = []
    for row in batch:
        ancestors = _ancestors(row)
        key = next((known[a] for a in ancestors if a in known), "")
        if not key and row.message_id in known:
            key = known[row.message_id]
        if not key:
            if ancestors:
                key = key_for_root(ancestors[0])
            elif row.message_id:
                key = key_for_root(row.message_id)
                if is_reply_subject(row.subject):
                    orphans.append(row)
            elif row.pk is not None:
                key = _local_key(row.pk)
        row.key = key
        if row.message_id:
            known.setdefault(row.message_id, key)

    if orphans:
        for at, key in _subject_matches(account_id, orphans[:MAX_SUBJECT_ORPHANS]).items():
            orphans[at].key = key

    # A message whose key is not sha1(its own id) may be the parent earlier arrivals
    # took for a root: their key moves to this message's key.
    renames: dict[str, str] = {}
    for row in batch:
        if row.message_id:
            own = key_for_root(row.message_id)
            if row.key != own:
                renames.setdefault(own, row.key)
    for row in batch:
        row.key = _resolve(renames, row.key)
    renames = {old: _resolve(renames, new) for old, new in renames.items()}
    return {old: new for old, new in renames.items() if old != new}


def _assign(account_id: int, batch: list[_Row]) -> int:
    if not batch:
        return 0
    renames = _choose_keys(account_id, batch)
    with transaction.atomic():
        # One prepared UPDATE run per row (executemany): bulk_update and a CASE per
        # rename compile an expression per row, ~100 us each, most of a headers batch's
        # time in the IMAP sync (profiled).
        table, quote = Message._meta.db_table, connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {quote(table)} SET thread_key = %s WHERE id = %s",  # noqa: S608
                [(row.key, row.pk) for row in batch])
        rekeyed = apply_renames(account_id, renames)
    return len(batch) + rekeyed


def apply_renames(account_id: int, renames: dict[str, str]) -> int:
    """Move stored rows from each old key to its new one; returns the rows re-keyed."""
    table, quote = Message._meta.db_table, connection.ops.quote_name
    rekeyed = 0
    if renames and not set(renames.values()) & set(renames):
        # No key is both renamed and a rename's target, so renames applied in
        # chunks end where one CASE over all of them would. The rows are found
        # through the thread_key index: for "account_id = ? AND thread_key IN
        # (...)" SQLite's planner takes the account index and scans the whole
        # account (seconds per batch in a big first sync, profiled).
        olds = list(renames)
        for start in range(0, len(olds), UPDATE_BATCH):
            chunk = olds[start:start + UPDATE_BATCH]
            cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
            marks = ", ".join(["%s"] * len(chunk))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {quote(table)} SET thread_key = CASE thread_key {cases} "  # noqa: S608
                    f"ELSE thread_key END WHERE id IN (SELECT id FROM {quote(table)} "
                    f"WHERE thread_key IN ({marks})) AND account_id = %s",
                    [v for old in chunk for v in (old, renames[old])] + chunk
                    + [account_id])
                rekeyed += max(cursor.rowcount, 0)
    elif renames:
        rekeyed = (
            Message.objects.filter(account_id=account_id, thread_key__in=list(renames))
            .update(
                thread_key=Case(
                    *(When(thread_key=old, then=Value(new)) for old, new in renames.items()),
                    default=F("thread_key"),
                )
            )
        )
    return rekeyed


def keys_before_insert(account_id: int, rows: Sequence[Mapping[str, Any]]
                       ) -> tuple[list[str], dict[str, str]]:
    """Thread keys for rows about to be inserted (their envelope fields: message_id,
    in_reply_to, references, subject, date), in the rows' order, and the renames of
    stored threads they join, for apply_renames after the insert.

    The IMAP headers phase writes the key with the row: loading the new rows back and
    updating each was a sixth of that phase (py-spy). A row without a Message-ID gets
    "" (its key is made from its id): assign_thread_keys keys it after the insert.
    """
    batch = [_Row(None, row["message_id"], row["in_reply_to"], row["references"].split(),
                  row["subject"], row["date"]) for row in rows]
    # Oldest first, as _load gives them (undated rows first, as SQLite sorts NULLs).
    ordered = sorted(batch, key=lambda row: (1, row.date) if row.date else (0, 0))
    renames = _choose_keys(account_id, ordered) if batch else {}
    return [row.key for row in batch], renames


def assign_thread_keys_for_batch(account_id: int, message_ids: Sequence[int]) -> int:
    """The sync engines' hook: call once after each stored batch, with its row ids."""
    if not message_ids:
        return 0
    return assign_thread_keys(account_id, message_ids)
