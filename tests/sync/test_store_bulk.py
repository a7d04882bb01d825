"""The fast store path: parsing in worker processes, blobs written once, the search
index filled per batch. Each must end in what the plain path gives: the same bytes, the
same search answers, the triggers in place afterwards."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from bench.generator import generate_with_meta
from tests.search.test_index_rows import index_rows, sql_rows
from tests.servers.dovecot import DovecotServer
from tests.sync.pop3_support import pop3_account, run_sync, stored_raws
from webmail.mail import blobs
from webmail.mail.models import Blob, Message
from webmail.mail.search_batch import search_index_in_bulk
from webmail.search.indexing import reindex_all
from webmail.search.service import search_messages
from webmail.sync import imap_prepare

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = ("Größe", "Straße", "привет", "Москва", "会議", "東京", "café", "résumé", "Übersicht")


def found(user: User, query: str) -> set[str]:
    return {Message.objects.get(pk=h.message_id).message_id
            for h in search_messages(user, query, limit=200).hits}


def expected_for(word: str, metas: list[dict[str, Any]]) -> set[str]:
    needle = word.casefold()
    return {meta["message_id"].strip("<>") for meta in metas if needle in " ".join(
        [meta["subject"], meta["from"], *meta["words"],
         *(name for name, _type, _size in meta["attachments"])]).casefold()}


def sqlite_triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.dbspecific  # the SQLite run too: its index rows come from the writer
def test_a_pop3_fetch_parsed_in_workers_is_stored_and_searchable_as_usual(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_prepare, "PARALLEL_FROM", 1)  # a pool even for a few
    generated = list(generate_with_meta(60, seed=5))
    raws = [raw for raw, _meta in generated]
    metas = [meta for _raw, meta in generated]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot)
    triggers_before = sqlite_triggers() if connection.vendor == "sqlite" else set()

    stats = run_sync(account)

    assert stats.messages_fetched == 60
    assert stored_raws(account) == raws
    # The workers wrote the files (local disk), the engine their rows: one per message.
    assert Blob.objects.filter(pk__in=[hashlib.sha256(r).hexdigest() for r in raws]).count() == 60
    if connection.vendor == "sqlite":
        assert sqlite_triggers() == triggers_before
        # Index rows the writer computed (the workers spaced the text) are SQL's own.
        assert index_rows() == sql_rows()
    answers = {word: found(alice, word) for word in WORDS}
    assert sum(1 for word in WORDS if answers[word]) >= 5
    for word in WORDS:
        assert answers[word] == expected_for(word, metas), word
    # The index a full rebuild makes from the stored rows answers the same.
    reindex_all()
    assert {word: found(alice, word) for word in WORDS} == answers
    # A second run stores nothing new.
    assert run_sync(account).messages_fetched == 0
    assert Message.objects.filter(account=account).count() == 60


def test_a_failed_batch_keeps_the_triggers_and_indexes_nothing(
    alice: User, dovecot: DovecotServer
) -> None:
    account = pop3_account(alice, dovecot)
    from webmail.mail.local_folders import ensure_local_folders

    inbox = ensure_local_folders(account)["inbox"]
    before = sqlite_triggers() if connection.vendor == "sqlite" else set()
    with pytest.raises(RuntimeError), search_index_in_bulk() as ids:
        message = Message.objects.create(account=account, folder=inbox, subject="Zebrafish")
        ids.append(message.pk)
        raise RuntimeError("the batch fails")
    assert not Message.objects.filter(subject="Zebrafish").exists()
    if connection.vendor == "sqlite":
        assert sqlite_triggers() == before
    # Rows written outside a batch are indexed by the triggers, as before.
    Message.objects.create(account=account, folder=inbox, subject="Zebrafish")
    assert len(search_messages(alice, "Zebrafish").hits) == 1


def test_blobs_are_written_whole_and_once() -> None:
    raws = [b"Subject: a\r\n\r\n" + os.urandom(5000), b"Subject: b\r\n\r\nbody\r\n"]
    shas = blobs.put_many([*raws, raws[0]])
    assert shas[0] == shas[2]
    assert [blobs.get(sha) for sha in shas] == [raws[0], raws[1], raws[0]]
    blobs.put_many(raws)  # again: nothing rewritten, nothing left over
    root = blobs.local_root()
    if root is not None:  # (other tests' killed syncs may leave theirs: only ours count)
        assert not [p for sha in shas for p in Path(root.location).rglob(f"{sha}*.tmp")]


@pytest.fixture
def backgrounds(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each BatchWriter the sync made writes in its background thread."""
    from webmail.sync import writer

    made: list[bool] = []
    real_init = writer.BatchWriter.__init__

    def spy(self: writer.BatchWriter, *, background: bool) -> None:
        real_init(self, background=background)
        made.append(self.background)

    monkeypatch.setattr(writer.BatchWriter, "__init__", spy)
    return made


def imap_sync(account: Any) -> None:
    from tests.sync.test_imap import run_sync as run_imap_sync

    run_imap_sync(account)


@pytest.mark.dbspecific
def test_an_imap_first_sync_stored_by_the_writer_thread_equals_the_server(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch,
    backgrounds: list[bool],
) -> None:
    from tests.sync.test_imap import assert_store_equals_server, imap_account
    from webmail.sync import imap as imap_engine

    monkeypatch.setattr(imap_prepare, "PARALLEL_FROM", 1)
    monkeypatch.setattr(imap_engine, "BODY_BATCH", 7)  # several batches in flight
    generated = list(generate_with_meta(40, seed=6))
    dovecot.deliver_many(dovecot_user, [raw for raw, _meta in generated])
    account = imap_account(alice, dovecot)
    triggers_before = sqlite_triggers() if connection.vendor == "sqlite" else set()

    imap_sync(account)

    assert backgrounds and all(backgrounds)  # the writes ran in the writer thread
    assert_store_equals_server(account, dovecot)
    if connection.vendor == "sqlite":
        assert sqlite_triggers() == triggers_before
        assert index_rows() == sql_rows()
    metas = [meta for _raw, meta in generated]
    for word in WORDS:
        assert found(alice, word) == expected_for(word, metas), word


def test_a_write_that_fails_in_the_writer_thread_stops_the_sync_and_keeps_earlier_batches(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sync.test_imap import assert_store_equals_server, imap_account
    from webmail.mail.models import BodyState
    from webmail.sync import imap as imap_engine
    from webmail.sync import imap_store

    monkeypatch.setattr(imap_prepare, "PARALLEL_FROM", 1)
    monkeypatch.setattr(imap_engine, "BODY_BATCH", 5)
    dovecot.deliver_many(dovecot_user, [raw for raw, _meta in generate_with_meta(20, seed=7)])
    account = imap_account(alice, dovecot)
    real_store = imap_store.store_bodies
    calls = []

    def failing_second(items: Any) -> None:
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        real_store(items)

    monkeypatch.setattr(imap_store, "store_bodies", failing_second)
    with pytest.raises(RuntimeError, match="the disk is full"):
        imap_sync(account)
    states = list(Message.objects.filter(account=account).values_list("body_state", flat=True))
    assert states.count(BodyState.FULL) == 5 and len(states) == 20
    monkeypatch.setattr(imap_store, "store_bodies", real_store)
    imap_sync(account)
    assert_store_equals_server(account, dovecot)


def test_a_pop3_fetch_in_several_batches_through_the_writer_thread_is_complete(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webmail.sync import pop3 as pop3_engine

    monkeypatch.setattr(imap_prepare, "PARALLEL_FROM", 1)
    monkeypatch.setattr(pop3_engine, "BATCH_MESSAGES", 7)
    raws = [raw for raw, _meta in generate_with_meta(30, seed=8)]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot)
    stats = run_sync(account)
    assert stats.messages_fetched == 30
    assert stored_raws(account) == raws
    assert run_sync(account).messages_fetched == 0


def test_without_a_pool_the_writer_thread_overlaps_inline_parsing(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch,
    backgrounds: list[bool],
) -> None:
    from webmail.sync import pop3 as pop3_engine

    monkeypatch.setattr(imap_prepare, "PARALLEL_FROM", 1)
    monkeypatch.setattr(imap_prepare.os, "cpu_count", lambda: 1)  # no pool: parse inline
    monkeypatch.setattr(pop3_engine, "BATCH_MESSAGES", 4)
    raws = [raw for raw, _meta in generate_with_meta(13, seed=9)]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot)
    assert run_sync(account).messages_fetched == 13
    assert backgrounds == [True]
    assert stored_raws(account) == raws


def test_the_list_comes_before_its_search_index_and_a_kill_between_them_is_made_good(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sync.test_imap import assert_store_equals_server, imap_account
    from webmail.sync import imap as imap_engine

    generated = list(generate_with_meta(12, seed=8))
    dovecot.deliver_many(dovecot_user, [raw for raw, _meta in generated])
    account = imap_account(alice, dovecot)
    tickets = {meta["message_id"].strip("<>") for _raw, meta in generated
               if "ticket" in meta["subject"].casefold()}
    assert len(tickets) >= 3

    def killed(*_: object, **__: object) -> None:
        raise RuntimeError("killed")

    # Killed after the list was written, before its search index: the rows are there;
    # SQLite has not indexed them yet (PostgreSQL's triggers did).
    real_index = imap_engine.index_missing_header_rows
    monkeypatch.setattr(imap_engine, "index_missing_header_rows", killed)
    with pytest.raises(RuntimeError, match="killed"):
        imap_sync(account)
    assert Message.objects.filter(account=account).count() == 12
    # (A free word: its answer comes from the search index; subject: filters columns.)
    assert found(alice, "ticket") == (set() if connection.vendor == "sqlite" else tickets)

    # The next run indexes them before the bodies: found while their bodies are pending.
    monkeypatch.setattr(imap_engine, "index_missing_header_rows", real_index)
    monkeypatch.setattr(imap_engine, "sync_folder_bodies", killed)
    with pytest.raises(RuntimeError, match="killed"):
        imap_sync(account)
    hits = search_messages(alice, "ticket", limit=50).hits
    assert {Message.objects.get(pk=h.message_id).message_id for h in hits} == tickets
    assert all(h.body_pending for h in hits)

    monkeypatch.undo()
    imap_sync(account)
    assert_store_equals_server(account, dovecot)
    assert found(alice, "ticket") == expected_for("ticket", [m for _r, m in generated])
    assert not search_messages(alice, "ticket", limit=50).pending_bodies
