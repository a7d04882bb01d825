from __future__ import annotations

import random
from datetime import timedelta

import pytest

from accounts.models import User
from tests.conftest import make_account
from tests.mail.ui_factories import BASE_DATE, make_folder, make_message, refresh_counts
from webmail.mail import selectors
from webmail.mail.listing import Cursor, Sort, page_of_messages
from webmail.mail.models import FolderRole, Message

pytestmark = pytest.mark.django_db


def _walk(folder_ids: list[int], sort: Sort, limit: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(1000):
        page = page_of_messages(folder_ids, sort=sort, cursor=cursor, limit=limit)
        seen.extend(m.pk for m in page.messages)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def _expected(folder_ids: list[int], sort: Sort) -> list[int]:
    rows = list(Message.objects.filter(folder_id__in=folder_ids))
    if sort is Sort.DATE:
        dated = sorted((m for m in rows if m.date), key=lambda m: (m.date, m.pk), reverse=True)
        undated = sorted((m for m in rows if not m.date), key=lambda m: m.pk, reverse=True)
        return [m.pk for m in dated + undated]
    if sort is Sort.SIZE:
        return [m.pk for m in sorted(rows, key=lambda m: (m.size, m.pk), reverse=True)]
    if sort is Sort.SENDER:
        return [m.pk for m in sorted(
            rows, key=lambda m: ((m.from_name or m.from_address).lower(), m.pk))]
    return [m.pk for m in sorted(rows, key=lambda m: (m.subject[:200].lower(), m.pk))]


@pytest.fixture
def mixed_folder(alice: User):  # type: ignore[no-untyped-def]
    account = make_account(alice)
    folder = make_folder(account)
    rng = random.Random(7)
    for i in range(60):
        make_message(
            folder,
            subject=rng.choice(["alpha", "Beta", "gamma", "delta"]) + f" {i % 3}",
            minutes=rng.choice([0, 5, 10, 15]),  # many ties on the date
            size=rng.choice([100, 2000, 30000]),
            from_name=rng.choice(["", "Zed", "anna"]),
            from_address=rng.choice(["b@x.test", "c@x.test"]),
            date=None if i % 17 == 0 else BASE_DATE + timedelta(minutes=rng.choice([0, 5, 10])),
        )
    return folder


@pytest.mark.parametrize("sort", list(Sort))
def test_keyset_pages_list_every_message_once_in_order(mixed_folder, sort) -> None:  # type: ignore[no-untyped-def]
    assert _walk([mixed_folder.pk], sort, limit=7) == _expected([mixed_folder.pk], sort)


def test_unified_inbox_merges_every_account_inbox_in_date_order(alice: User) -> None:
    first, second = make_account(alice), make_account(alice, email="alice@other.test")
    inboxes = [make_folder(first), make_folder(second)]
    for i in range(25):
        make_message(inboxes[i % 2], subject=f"m{i}", minutes=(i * 7) % 30)
    make_message(inboxes[0], subject="undated", date=None)
    ids = [f.pk for f in inboxes]
    assert _walk(ids, Sort.DATE, limit=4) == _expected(ids, Sort.DATE)


def test_a_page_costs_the_same_number_of_queries_early_and_late(
    mixed_folder, django_assert_num_queries  # type: ignore[no-untyped-def]
) -> None:
    cursor = None
    for _ in range(3):
        with django_assert_num_queries(1):
            page = page_of_messages([mixed_folder.pk], sort=Sort.SIZE, cursor=cursor, limit=5)
        cursor = page.next_cursor


def test_a_malformed_cursor_starts_from_the_top(mixed_folder) -> None:  # type: ignore[no-untyped-def]
    top = page_of_messages([mixed_folder.pk], limit=3).messages
    for bad in ["!!!", "e30", Cursor(segment=5, key=None, id=1).encode(), "W10"]:
        assert page_of_messages([mixed_folder.pk], cursor=bad, limit=3).messages == top


def test_sidebar_lists_special_folders_first_with_kept_counts(alice: User, bob: User) -> None:
    account = make_account(alice)
    make_folder(account, "Zeta")
    make_folder(account, "Trash", role=FolderRole.TRASH)
    inbox = make_folder(account)
    make_folder(account, "Projects/2026", delimiter="/")
    make_message(inbox)
    make_message(inbox, is_seen=True)
    refresh_counts(inbox)
    make_folder(make_account(bob), "Bob's secret")

    side = selectors.sidebar(alice)

    assert [n.label for n in side.accounts[0].folders] == ["Inbox", "Trash", "2026", "Zeta"]
    assert [n.depth for n in side.accounts[0].folders] == [0, 0, 1, 0]
    assert side.unified_unread == 1
    assert "Bob's secret" not in [f.name for f in side.folders_by_id.values()]


def test_changes_stamp_moves_when_mail_arrives(alice: User) -> None:
    inbox = make_folder(make_account(alice))
    before = selectors.changes_stamp(alice)
    make_message(inbox)
    refresh_counts(inbox)
    after = selectors.changes_stamp(alice)
    assert before["version"] != after["version"]
    assert after["unread"] == 1
    assert selectors.changes_stamp(alice) == after


def test_the_page_version_equals_the_polled_version(alice: User) -> None:
    inbox = make_folder(make_account(alice))
    make_message(inbox)
    refresh_counts(inbox)
    side = selectors.sidebar(alice)
    assert selectors.sidebar_stamp(alice, side) == selectors.changes_stamp(alice)


def test_conversation_mode_lists_each_thread_once_by_its_newest_message(alice: User) -> None:
    inbox = make_folder(make_account(alice))
    for i in range(30):
        make_message(inbox, subject=f"t{i % 7}", minutes=i, thread_key=f"thread-{i % 7}")
    for i in range(5):
        make_message(inbox, subject=f"alone {i}", minutes=100 + i)
    make_message(inbox, subject="undated in t0", thread_key="thread-0", date=None)

    shown: list[Message] = []
    cursor = None
    while True:
        page = page_of_messages([inbox.pk], cursor=cursor, limit=4, threads=True)
        shown.extend(page.messages)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert [m.subject for m in shown[:5]] == [f"alone {i}" for i in range(4, -1, -1)]
    threads = shown[5:]
    assert sorted(m.thread_key for m in threads) == sorted(f"thread-{k}" for k in range(7))
    newest = {m.thread_key: m for m in Message.objects.filter(folder=inbox, date__isnull=False)
              .order_by("date", "id")}
    assert all(m.pk == newest[m.thread_key].pk for m in threads)
    sizes = {m.thread_key: m.thread_size for m in threads}  # type: ignore[attr-defined]
    assert sizes["thread-0"] == 6 and sizes["thread-6"] == 4
