"""SQLite's index rows computed in Python (index_text.fts_row, search_batch.IndexQueue)
must be the rows its SQL makes from the stored columns (schema.sqlite_values): the
triggers, a reindex and a sync's writer all fill the same index."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest
from django.db import connection

from accounts.models import User
from bench.generator import generate_mailbox
from tests.conftest import make_account
from tests.parsing.corpus import corpus_files
from webmail.mail.local_folders import ensure_local_folders
from webmail.mail.models import Message
from webmail.search import index_text, schema
from webmail.search.service import search_messages
from webmail.sync import imap_prepare, pop3_store
from webmail.sync.pop3_store import Downloaded

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index")
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
# Odd values: CJK at the edges, a lone surrogate the parser let through from 8-bit
# headers, an empty text, and names next to the text.
ODD = [
    b"From: =?utf-8?b?5bGx55Sw?= <yamada@example.jp>\r\nTo: \xe4\xbc\x9a <a@b.c>, x@y.z\r\n"
    b"Subject: \xe4\xbc\x9a\xe8\xad\xb0\r\n\r\n\xe4\xba\x88\xe5\xae\x9a\r\n",
    b"From: Bad \xff\xfe Name <bad@example.org>\r\nSubject: raw 8-bit \xe9\r\n\r\nbody \xff\r\n",
    b"Subject: \r\n\r\n",
    b"From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
    b"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xe6\x9d\xb1\xe4\xba\xac\r\n"
    b"--x\r\nContent-Type: application/pdf; name=\"\xe8\xb3\x87\xe6\x96\x99.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--x--\r\n",
]


def test_lists_of_pairs_and_strings_become_words_and_other_shapes_are_left_to_sql() -> None:
    assert index_text.json_list_text([["Ann Lee", "ann@x.io"], ["", "b@y.io"]]) == \
        "Ann Lee ann@x.io  b@y.io"
    assert index_text.json_list_text(["a.pdf", "会議.doc"]) == "a.pdf 会議.doc"
    assert index_text.json_list_text([]) == ""
    assert index_text.json_list_text([["only one"]]) is None
    assert index_text.json_list_text([None]) is None


def test_a_row_spaces_cjk_and_makes_the_people_grams() -> None:
    row = index_text.fts_row("会議 notes", "Ann", "ann@x.io", [["", "bo@y.io"]], [],
                             index_text.spaced("予定 ok") or "", ["資料.pdf"])
    assert row == (" 会 議  notes", "Ann ann@x.io  bo@y.io ", " 予 定  ok  資 料 .pdf",
                   "ann ann")


def _messages() -> list[bytes]:
    corpus = [path.read_bytes() for path in corpus_files()]
    return [*ODD, *corpus, *generate_mailbox(80, seed=11)]


def index_rows() -> dict[int, tuple[str, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT rowid, {schema.FTS_COLUMNS} FROM search_fts")  # noqa: S608
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


def sql_rows() -> dict[int, tuple[str, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT m.id, {schema.sqlite_values('m')} FROM mail_message AS m")  # noqa: S608
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


@sqlite_only
@pytest.mark.dbspecific
@pytest.mark.django_db(transaction=True)
def test_rows_a_sync_writer_computes_are_those_sql_makes_from_the_stored_columns(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = ensure_local_folders(make_account(alice, protocol="pop3"))["inbox"]
    computed: list[object] = []
    real = index_text.fts_row

    def counted(*args: object) -> object:
        row = real(*args)  # type: ignore[arg-type]
        computed.append(row)
        return row

    monkeypatch.setattr("webmail.mail.search_batch.fts_row", counted)
    # As in a parsing worker of a SQLite store.
    monkeypatch.setattr(imap_prepare, "_space_search_text", True)
    raws = _messages()
    batch = [Downloaded(uidl=f"u{index}", prepared=imap_prepare.prepare(raw, NOW))
             for index, raw in enumerate(raws)]

    stored = pop3_store.store_batch(inbox.account, inbox, batch, synthetic=False,
                                    now=lambda: NOW)

    assert stored == len(raws)
    assert len([row for row in computed if row is not None]) == len(raws)
    written = index_rows()
    assert set(written) == set(Message.objects.values_list("pk", flat=True))
    assert written == sql_rows()
    # And a person finds them: CJK by its characters, a word of an attachment name.
    assert search_messages(alice, "会議", limit=10).hits
    assert search_messages(alice, "資料", limit=10).hits


@sqlite_only
@pytest.mark.dbspecific
@pytest.mark.django_db(transaction=True)
def test_rows_without_worker_spacing_are_indexed_by_sql_as_before(alice: User) -> None:
    inbox = ensure_local_folders(make_account(alice, protocol="pop3"))["inbox"]
    batch = [Downloaded(uidl=f"u{index}", prepared=imap_prepare.prepare(raw, NOW))
             for index, raw in enumerate(ODD)]
    assert all(item.prepared.spaced_search_text is None for item in batch)

    pop3_store.store_batch(inbox.account, inbox, batch, synthetic=False, now=lambda: NOW)

    assert index_rows() == sql_rows()
    assert len(index_rows()) == len(ODD)


def test_grams_are_each_words_pieces_in_order() -> None:
    rng = random.Random(1)
    pieces = ["Ann", "b.ost@x.io", "Müller", "会議", " ", "_", "ab", "x1y2", "<", '"', "Ünï",
              "ß", "١٢٣"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        by_word = " ".join(piece for word in re.findall(r"\w+", text.lower())
                           for piece in index_text.word_grams(word))
        assert index_text.grams(text) == by_word, text
