"""SQLite: one FTS5 index holds every person's mail, so a person's search must not
cost more as other people's mailboxes grow (a small mailbox on a big site walked all of
everyone's matches: 480 ms of CPU a search in bench/load.py at 200 x 200 messages).

The cost is counted in SQLite's virtual machine steps (a progress handler), which is
deterministic, not in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from accounts.models import User
from tests.conftest import make_account, make_user
from tests.search.factories import make_folder, make_message
from webmail.search.service import search_messages

pytestmark = [
    pytest.mark.django_db, pytest.mark.dbspecific,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 plans"),
]


@contextmanager
def vm_steps() -> Iterator[list[int]]:
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    connection.ensure_connection()
    raw = connection.connection
    raw.set_progress_handler(tick, 100)
    try:
        yield counted
    finally:
        raw.set_progress_handler(None, 100)


def add_mail(owner: User, count: int, *, start: int = 0) -> None:
    folder = make_folder(make_account(owner, email=f"{owner.username}{start}@example.test"))
    for n in range(start, start + count):
        make_message(folder, f"Invoice {n}", f"invoice number {n} for the quarter")


def cost_of_search(person: User) -> int:
    with vm_steps() as counted:
        results = search_messages(person, "invoice")
    assert len(results.hits) == 5
    return counted[0]


def test_a_small_mailbox_searches_at_the_same_cost_however_big_the_site(alice: User) -> None:
    bob = make_user("bob")
    add_mail(alice, 5)
    add_mail(bob, 600)
    before = cost_of_search(alice)
    add_mail(bob, 1800, start=600)
    after = cost_of_search(alice)
    assert after < before * 1.3, (before, after)


def test_a_big_mailbox_still_stops_at_the_newest_matches(alice: User) -> None:
    add_mail(alice, 600)
    first = search_messages(alice, "invoice", limit=10)
    assert [h.message_id for h in first.hits] != []
    with vm_steps() as small:
        search_messages(alice, "invoice", limit=10)
    add_mail(alice, 1800, start=600)
    with vm_steps() as big:
        search_messages(alice, "invoice", limit=10)
    assert big[0] < small[0] * 2, (small[0], big[0])
