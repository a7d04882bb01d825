"""Conversation keys over real stored messages: raw bytes parsed and stored by ingest."""

from __future__ import annotations

from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import MailAccount, User
from tests.conftest import make_account
from webmail.mail.ingest import store_full_message
from webmail.mail.models import Folder, FolderRole, Message
from webmail.mail.threading import (
    assign_thread_keys,
    assign_thread_keys_for_batch,
    key_for_root,
)

pytestmark = pytest.mark.django_db

_uids = count(1)


def raw_message(
    message_id: str,
    subject: str,
    *,
    in_reply_to: str = "",
    references: str = "",
    sender: str = "carol@example.test",
    date: str = "Mon, 02 Nov 2026 10:00:00 +0000",
) -> bytes:
    lines = [
        f"From: {sender}",
        "To: alice@mail.example.test",
        f"Subject: {subject}",
        f"Date: {date}",
    ]
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references.split()))
    return ("\r\n".join(lines) + "\r\n\r\nBody text.\r\n").encode()


def store(folder: Folder, raw: bytes) -> Message:
    message = Message(account=folder.account, folder=folder, uidvalidity=1, uid=next(_uids))
    message.save()
    store_full_message(message, raw)
    return message


def key_of(message: Message) -> str:
    message.refresh_from_db()
    return message.thread_key


@pytest.fixture
def account(alice: User) -> MailAccount:
    return make_account(alice)


@pytest.fixture
def inbox(account: MailAccount) -> Folder:
    return Folder.objects.create(account=account, name="INBOX", role=FolderRole.INBOX)


@pytest.fixture
def sent(account: MailAccount) -> Folder:
    return Folder.objects.create(account=account, name="Sent", role=FolderRole.SENT)


def test_a_reply_in_sent_joins_the_inbox_conversation(
    account: MailAccount, inbox: Folder, sent: Folder
) -> None:
    question = store(inbox, raw_message("q1@example.test", "Lunch on Friday?"))
    assign_thread_keys_for_batch(account.pk, [question.pk])
    reply = store(
        sent,
        raw_message(
            "r1@mail.example.test",
            "Re: Lunch on Friday?",
            in_reply_to="q1@example.test",
            references="q1@example.test",
            sender="alice@mail.example.test",
            date="Mon, 02 Nov 2026 11:00:00 +0000",
        ),
    )
    assign_thread_keys_for_batch(account.pk, [reply.pk])
    answer = store(
        inbox,
        raw_message(
            "a1@example.test",
            "Re: Re: Lunch on Friday?",
            in_reply_to="r1@mail.example.test",
            date="Mon, 02 Nov 2026 12:00:00 +0000",
        ),
    )
    assign_thread_keys_for_batch(account.pk, [answer.pk])

    assert key_of(question) == key_of(reply) == key_of(answer) == key_for_root("q1@example.test")
    assert len(key_of(question)) <= 64


def test_unrelated_messages_get_their_own_conversations(
    account: MailAccount, inbox: Folder
) -> None:
    one = store(inbox, raw_message("one@example.test", "Invoice"))
    two = store(inbox, raw_message("two@example.test", "Invoice"))
    assign_thread_keys(account.pk)

    assert key_of(one) != key_of(two)


def test_a_batch_whose_messages_answer_each_other_is_one_conversation(
    account: MailAccount, inbox: Folder, sent: Folder
) -> None:
    # Stored in one batch, child first: the in-batch order must not matter.
    child = store(
        inbox,
        raw_message("c@x.test", "Re: Plan", references="root@x.test mid@x.test",
                    date="Tue, 03 Nov 2026 10:00:00 +0000"),
    )
    middle = store(
        sent,
        raw_message("mid@x.test", "Re: Plan", in_reply_to="root@x.test",
                    date="Mon, 02 Nov 2026 12:00:00 +0000"),
    )
    root = store(inbox, raw_message("root@x.test", "Plan"))
    assign_thread_keys_for_batch(account.pk, [child.pk, middle.pk, root.pk])

    assert key_of(child) == key_of(middle) == key_of(root) == key_for_root("root@x.test")


def test_a_late_parent_joins_two_threads_stored_before_it(
    account: MailAccount, inbox: Folder
) -> None:
    # Two replies that name only their parent (no References), stored first: each
    # takes the unseen parent for its root.
    first = store(inbox, raw_message("k1@x.test", "Re: Trip", in_reply_to="p@x.test"))
    second = store(inbox, raw_message("k2@x.test", "Re: Trip", in_reply_to="p@x.test"))
    assign_thread_keys_for_batch(account.pk, [first.pk, second.pk])
    # A message answering the grandparent, in another thread.
    cousin = store(inbox, raw_message("cousin@x.test", "Re: Trip", in_reply_to="g@x.test"))
    assign_thread_keys_for_batch(account.pk, [cousin.pk])
    assert key_of(first) == key_of(second) != key_of(cousin)

    # The parent arrives, answering the grandparent: everything is one conversation.
    parent = store(
        inbox, raw_message("p@x.test", "Re: Trip", in_reply_to="g@x.test", references="g@x.test")
    )
    assign_thread_keys_for_batch(account.pk, [parent.pk])

    keys = {key_of(m) for m in (first, second, cousin, parent)}
    assert keys == {key_for_root("g@x.test")}


def test_a_reply_without_headers_joins_by_subject_within_the_window(
    account: MailAccount, inbox: Folder
) -> None:
    original = store(inbox, raw_message("o@x.test", "Quarterly numbers",
                                        date="Mon, 02 Nov 2026 10:00:00 +0000"))
    assign_thread_keys(account.pk)
    reply = store(inbox, raw_message("noref@x.test", "AW: Re: quarterly  numbers",
                                     date="Wed, 04 Nov 2026 10:00:00 +0000"))
    late = store(inbox, raw_message("late@x.test", "Re: Quarterly numbers",
                                    date="Mon, 01 Mar 2027 10:00:00 +0000"))
    plain = store(inbox, raw_message("plain@x.test", "Quarterly numbers",
                                     date="Thu, 05 Nov 2026 10:00:00 +0000"))
    assign_thread_keys_for_batch(account.pk, [reply.pk, late.pk, plain.pk])

    assert key_of(reply) == key_of(original)
    # Months later is a new conversation; a subject without "Re:" is a new message.
    assert key_of(late) != key_of(original)
    assert key_of(plain) != key_of(original)


def test_a_copy_in_another_folder_stays_in_its_conversation(
    account: MailAccount, inbox: Folder
) -> None:
    archive = Folder.objects.create(account=account, name="Archive", role=FolderRole.ARCHIVE)
    root = store(inbox, raw_message("r@x.test", "Hello"))
    reply = store(inbox, raw_message("re@x.test", "Re: Hello", references="r@x.test"))
    assign_thread_keys(account.pk)
    copy = store(archive, raw_message("re@x.test", "Re: Hello"))  # headers lost, same id
    assign_thread_keys_for_batch(account.pk, [copy.pk])

    assert key_of(copy) == key_of(reply) == key_of(root)


def test_messages_without_message_id_are_their_own_conversations(
    account: MailAccount, inbox: Folder
) -> None:
    one = store(inbox, raw_message("", "No id"))
    two = store(inbox, raw_message("", "No id"))
    assign_thread_keys(account.pk)

    assert key_of(one) and key_of(two) and key_of(one) != key_of(two)


def test_threads_never_cross_accounts(alice: User, bob: User) -> None:
    alice_account, bob_account = make_account(alice), make_account(bob)
    alice_inbox = Folder.objects.create(account=alice_account, name="INBOX")
    bob_inbox = Folder.objects.create(account=bob_account, name="INBOX")
    theirs = store(bob_inbox, raw_message("shared@x.test", "Hi"))
    assign_thread_keys(bob_account.pk)
    Message.objects.filter(pk=theirs.pk).update(thread_key="bob-only-key")
    mine = store(alice_inbox, raw_message("mine@x.test", "Re: Hi", in_reply_to="shared@x.test"))
    assign_thread_keys(alice_account.pk)

    assert key_of(mine) == key_for_root("shared@x.test")


def test_a_batch_of_hundreds_costs_a_handful_of_queries(
    account: MailAccount, inbox: Folder
) -> None:
    ids = [store(inbox, raw_message("t0@x.test", "Thread 0")).pk]
    for n in range(1, 300):
        parent = f"t{n - 1}@x.test"
        raw = raw_message(f"t{n}@x.test", f"Re: Thread {n % 7}", in_reply_to=parent,
                          references=f"t0@x.test {parent}")
        ids.append(store(inbox, raw).pk)

    with CaptureQueriesContext(connection) as queries:
        written = assign_thread_keys_for_batch(account.pk, ids)

    assert written == 300
    assert Message.objects.filter(thread_key=key_for_root("t0@x.test")).count() == 300
    # load, ancestors, bulk update (SAVEPOINT/transaction statements aside)
    statements = [q for q in queries.captured_queries
                  if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN"))]
    assert len(statements) <= 4


def test_unkeyed_rows_are_taken_in_chunks_and_still_meet(
    account: MailAccount, inbox: Folder, sent: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webmail.mail import threading as threads

    monkeypatch.setattr(threads, "UNKEYED_CHUNK", 3)
    stored = [store(inbox, raw_message("c0@x.test", "Chunks",
                                       date="Mon, 02 Nov 2026 10:00:00 +0000"))]
    for n in range(1, 8):
        folder = sent if n % 2 else inbox
        stored.append(store(folder, raw_message(
            f"c{n}@x.test", "Re: Chunks", in_reply_to=f"c{n - 1}@x.test",
            date=f"Mon, 02 Nov 2026 1{n}:00:00 +0000")))

    written = assign_thread_keys(account.pk)

    assert written >= 8
    assert {key_of(m) for m in stored} == {key_for_root("c0@x.test")}


def test_headers_only_rows_are_threaded_before_their_bodies_arrive(
    account: MailAccount, inbox: Folder
) -> None:
    # What an IMAP header fetch stores: envelope columns, no blob yet.
    root = Message.objects.create(account=account, folder=inbox, uid=1, uidvalidity=1,
                                  message_id="h1@x.test", subject="Hi")
    reply = Message.objects.create(account=account, folder=inbox, uid=2, uidvalidity=1,
                                   message_id="h2@x.test", in_reply_to="h1@x.test",
                                   references="h1@x.test", subject="Re: Hi")
    assign_thread_keys(account.pk)

    assert key_of(root) == key_of(reply) == key_for_root("h1@x.test")
