"""The newest matches of a common term from the newest rows (PostgreSQL only): the same
answers as the GIN path, trash, junk and other people's mail left out."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import User
from tests.conftest import make_account
from tests.search.factories import make_folder, make_message
from webmail.mail.models import Message
from webmail.search import service
from webmail.search.backends import pg_recent
from webmail.search.backends.postgres import filter_tsquery
from webmail.search.query import Text
from webmail.search.service import search_messages

pytestmark = [pytest.mark.django_db]


def test_a_long_walk_is_tried_only_when_the_probe_promises_enough_matches() -> None:
    # 1,500 rows at the probe's share must hold 1.5 times the matches needed.
    assert pg_recent.worth_walking(50, 500)
    assert not pg_recent.worth_walking(49, 500)
    assert pg_recent.worth_walking(6, 51)
    assert not pg_recent.worth_walking(0, 1)


needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="the walk is PostgreSQL's")


@pytest.fixture
def common(alice: User, bob: User) -> dict[str, set[int]]:
    """Two accounts of Alice's where "harbour" is in every message but one and the pair
    "harbour harbour" in three of four; newer matches in Trash, Junk and Bob's mail."""
    first, second = (make_folder(make_account(alice, email=f"walk{i}@example.test"))
                     for i in (1, 2))
    ids: dict[str, set[int]] = {"word": set(), "pair": set(), "all": set()}
    for i in range(120):
        folder = first if i % 3 else second
        body = "harbour harbour lights" if i % 4 else "harbour and lights"
        pk = make_message(folder, "notes", body, day=f"2024-{1 + i // 28:02}-{1 + i % 28:02}").pk
        ids["all"].add(pk)
        ids["word"].add(pk)
        if i % 4:
            ids["pair"].add(pk)
    ids["all"].add(make_message(first, "quiet", "nothing", day="2023-01-01").pk)
    account = first.account
    make_message(make_folder(account, "Trash", "trash"), "x", "harbour harbour",
                 day="2024-07-01")
    make_message(make_folder(account, "Junk", "junk"), "x", "harbour harbour",
                 day="2024-07-02")
    theirs = make_folder(make_account(bob, email="bobwalk@example.test"))
    for day in range(10, 20):
        make_message(theirs, "x", "harbour harbour", day=f"2024-08-{day}")
    return ids


def _newest(ids: set[int], count: int) -> list[int]:
    return list(Message.objects.filter(id__in=ids).order_by("-date", "-id")
                .values_list("id", flat=True)[:count])


@needs_postgres
@pytest.mark.parametrize("probe", [100, 20])  # answered by the probe, by the long walk
@pytest.mark.parametrize(("query", "key"), [("harbour", "word"), ('"harbour harbour"', "pair")])
def test_a_common_term_is_found_among_the_newest_rows_as_by_the_gin_index(
        alice: User, common: dict[str, set[int]], monkeypatch: pytest.MonkeyPatch,
        query: str, key: str, probe: int) -> None:
    walked: list[list[int] | None] = []
    real = pg_recent.newest_matches

    def recording(*args: object, **kwargs: object) -> list[int] | None:
        walked.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return walked[-1]

    monkeypatch.setattr(pg_recent, "newest_matches", recording)
    monkeypatch.setattr(pg_recent, "PROBE_ROWS", probe)
    monkeypatch.setattr(pg_recent, "WINDOW_MAX", 120)
    monkeypatch.setattr(service, "RANK_CANDIDATES", 20)

    by_date = [h.message_id for h in search_messages(alice, query, order="date").hits]
    ranked = {h.message_id for h in search_messages(alice, query).hits}

    assert len(walked) == 2 and all(found is not None for found in walked)
    assert by_date == _newest(common[key], 50)
    assert ranked == set(_newest(common[key], 20))
    monkeypatch.setattr(pg_recent, "newest_matches", lambda *args: None)  # the GIN path
    assert [h.message_id for h in search_messages(alice, query, order="date").hits] == by_date
    assert {h.message_id for h in search_messages(alice, query).hits} == ranked


@needs_postgres
def test_a_rare_term_is_left_to_the_gin_index(
        alice: User, common: dict[str, set[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = list(alice.mail_accounts.values_list("id", flat=True))
    quiet = filter_tsquery([Text("quiet")])
    monkeypatch.setattr(pg_recent, "PROBE_ROWS", 10)

    assert pg_recent.newest_in_window(quiet, 1, accounts, 10) == []
    assert pg_recent.newest_matches(quiet, 1, accounts) is None  # no match in 10 rows
    assert pg_recent.newest_in_window(quiet, 1, accounts, 200) == _newest(
        common["all"] - common["word"], 1)
    assert pg_recent.newest_matches(quiet, 1, []) is None
    assert [h.message_id for h in search_messages(alice, "quiet").hits] == _newest(
        common["all"] - common["word"], 1)
