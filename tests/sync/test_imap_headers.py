"""The headers phase's lean envelope parse gives what the full parser gives.

Pure: the benchmark's generated mailbox (legacy charsets, RFC 2047 names, threads) and
hand-written hostile headers, cut down to the fields the sync fetches, against
parse_message on the whole message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from accounts.models import MailAccount, User
from bench.generator import generate_mailbox
from webmail.mail.ingest import envelope_fields
from webmail.mail.models import Folder, Message
from webmail.mail.search_batch import index_missing_header_rows
from webmail.parsing.envelope import ENVELOPE_HEADERS, header_items, parse_envelope
from webmail.parsing.mime import parse_message
from webmail.protocols.imap import HeaderRecord
from webmail.search.service import search_messages
from webmail.sync.imap_headers import insert_header_rows

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def envelope_block(raw: bytes) -> bytes:
    """What BODY.PEEK[HEADER.FIELDS (...)] returns: the wanted fields, a blank line."""
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    wanted = {name.lower() for name in ENVELOPE_HEADERS}
    kept: list[bytes] = []
    keep = False
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower().decode("latin-1") in wanted
        if keep:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n\r\n"


def test_generated_mail_gives_the_same_envelope_as_the_full_parser() -> None:
    for raw in generate_mailbox(400, seed=7):
        full = envelope_fields(parse_message(raw, internal_date=WHEN))
        lean = envelope_fields(parse_envelope(envelope_block(raw), WHEN))
        assert lean == full


@pytest.mark.parametrize("raw", [
    # folded, RFC 2047 in a name with a comma, two To: lines, Cc with a group
    b'Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n and more\r\n'
    b'From: "=?utf-8?b?TcO8bGxlciwgSGFucw==?=" <hans@x.test>\r\n'
    b"To: a@x.test\r\nTo: b@x.test\r\nCc: friends: c@x.test, d@x.test;\r\n"
    b"Message-ID: <id1@x.test>\r\nReferences: <r1@x.test>\r\n\t<r2@x.test>\r\n"
    b"In-Reply-To: <r2@x.test>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0100\r\n\r\n",
    # raw 8-bit in a windows-1252 message's subject and name, no Date
    b"Content-Type: text/plain; charset=windows-1252\r\n"
    b"Subject: caf\xe9 cr\xe8me\r\nFrom: Ren\xe9 <rene@x.test>\r\n\r\n",
    # raw UTF-8, a bare Message-ID, an unreadable date
    "Subject: Grüße aus Köln\r\nMessage-ID: bare@x.test\r\nDate: yesterday\r\n\r\n"
    .encode(),
    # a header line without a colon ends the header block for compat32
    b"Subject: first\r\nnot a header line\r\nFrom: late@x.test\r\n\r\n",
    # nothing at all
    b"\r\n",
])
def test_awkward_headers_match_the_full_parser(raw: bytes) -> None:
    full = envelope_fields(parse_message(raw + b"body\r\n", internal_date=WHEN))
    assert envelope_fields(parse_envelope(raw, WHEN)) == full


def test_header_items_keep_folds_and_cap_long_values() -> None:
    items = header_items(b"Subject: a\r\n b\r\nX-Long: " + b"y" * 20000 + b"\r\n\r\n")
    assert items[0] == ("Subject", "a\n b")
    assert len(items[1][1]) == 16_384


def inbox_of(owner: User) -> Folder:
    account = MailAccount.objects.create(
        owner=owner, email="alice@x.test", protocol="imap", incoming_host="mail.x.test",
        incoming_port=993, incoming_username="alice")
    return Folder.objects.create(account=account, name="INBOX", uidvalidity=7)


@pytest.mark.django_db(transaction=True)
def test_header_rows_are_searchable_once_indexed_and_inserting_twice_changes_nothing(
    alice: User,
) -> None:
    folder = inbox_of(alice)
    account = folder.account
    headers = [f"Subject: Quarterly Straße report {n}\r\nFrom: Bob <bob@x.test>\r\n"
               f"Message-ID: <q{n}@x.test>\r\n\r\n".encode() for n in range(3)]
    records = [HeaderRecord(uid=n + 1, flags=frozenset({"\\Seen"}), size=100,
                            internal_date=WHEN, modseq=None, header_bytes=raw)
               for n, raw in enumerate(headers)]
    parsed = [parse_envelope(r.header_bytes, r.internal_date) for r in records]
    for _ in range(2):  # a retried batch: the same rows, no duplicates
        insert_header_rows(account, folder, 7, records, parsed)

    rows = Message.objects.filter(folder=folder).order_by("uid")
    assert [(m.uid, m.subject, m.is_seen, m.thread_key != "") for m in rows] == [
        (n + 1, f"Quarterly Straße report {n}", True, True) for n in range(3)]
    # SQLite: the list first, the search index right after (what the engine does once
    # every folder's headers are in); PostgreSQL's triggers index each row at once.
    if connection.vendor == "sqlite":
        assert search_messages(alice, "straße", limit=10).hits == []
    assert index_missing_header_rows([folder.pk]) == (3 if connection.vendor == "sqlite" else 0)
    assert index_missing_header_rows([folder.pk]) == 0
    hits = search_messages(alice, "straße", limit=10).hits
    assert {h.message_id for h in hits} == {m.pk for m in rows}
    if connection.vendor == "sqlite":  # the per-row triggers are back after the batch
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            assert {"search_fts_insert", "search_fts_update"} <= {n for (n,) in cursor}


@pytest.mark.django_db
def test_header_rows_are_prepared_as_django_prepares_them(alice: User) -> None:
    from webmail.mail.rows import RowInsert

    folder = inbox_of(alice)
    account = folder.account
    values = []
    for uid, raw in enumerate(generate_mailbox(40, seed=3), start=1):
        parsed = parse_envelope(envelope_block(raw), WHEN)
        values.append({**envelope_fields(parsed, size=len(raw)), "account_id": account.pk,
                       "folder_id": folder.pk, "uidvalidity": 7, "uid": uid,
                       "internal_date": WHEN if uid % 2 else None})
    insert = RowInsert(Message)

    def plain(value: object) -> object:  # psycopg's Jsonb wraps the object it dumps
        return getattr(value, "obj", value)

    rows = insert.rows(values)
    for row, given in zip(rows, values, strict=True):
        for field, value in zip(insert.fields, row, strict=True):
            if field.attname in given:
                expected = field.get_db_prep_save(given[field.attname], connection)
                assert plain(value) == plain(expected), field.attname


@pytest.mark.django_db
def test_header_rows_arrive_threaded_and_a_late_parent_joins_its_children(alice: User) -> None:
    from webmail.mail.threading import key_for_root, keys_before_insert

    folder = inbox_of(alice)
    account = folder.account
    uids = iter(range(1, 100))

    def insert(*headers: str) -> None:
        records = [HeaderRecord(uid=next(uids), flags=frozenset(), size=100, internal_date=WHEN,
                                modseq=None, header_bytes=f"{h}\r\n\r\n".encode())
                   for h in headers]
        insert_header_rows(account, folder, 7, records,
                           [parse_envelope(r.header_bytes, WHEN) for r in records])

    def key(subject: str) -> str:
        return Message.objects.get(folder=folder, subject=subject).thread_key

    insert("Subject: Budget\r\nMessage-ID: <b@x.test>\r\nDate: Mon, 2 Nov 2026 09:00 +0000")
    insert("Subject: Re: Plan one\r\nMessage-ID: <c1@x.test>\r\nReferences: <p@x.test>",
           "Subject: Re: Plan two\r\nMessage-ID: <c2@x.test>\r\nIn-Reply-To: <p@x.test>",
           "Subject: Re: Budget\r\nMessage-ID: <r@x.test>\r\nDate: Tue, 3 Nov 2026 09:00 +0000",
           "Subject: No id at all")
    assert key("Re: Plan one") == key("Re: Plan two") == key_for_root("p@x.test")
    assert key("Re: Budget") == key("Budget") == key_for_root("b@x.test")
    assert key("No id at all") not in ("", key("Budget"), key("Re: Plan one"))

    # The parent arrives later and answers a grandparent we never see: its children move.
    insert("Subject: Plan\r\nMessage-ID: <p@x.test>\r\nReferences: <g@x.test>")
    assert key("Plan") == key("Re: Plan one") == key("Re: Plan two") == key_for_root("g@x.test")
    assert keys_before_insert(account.pk, []) == ([], {})
