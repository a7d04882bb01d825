"""search_messages over a mailbox whose answers are known, on the database in use.

CI runs these on SQLite and on PostgreSQL (`dbspecific`); both backends must give the
same answers, except where a test says which one it speaks for.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from accounts.models import User
from tests.conftest import make_account
from tests.search.factories import known_mailbox, make_folder, make_message
from webmail.mail.models import Message
from webmail.search.indexing import index_message, reindex_all
from webmail.search.query import QueryError
from webmail.search.service import search_messages

pytestmark = [pytest.mark.django_db, pytest.mark.dbspecific]

INBOX = {"budget", "meetings", "german", "french", "russian", "japanese", "pending"}
ALL_BUT_TRASH = INBOX | {"sent", "invoice"}


@pytest.fixture
def box(alice: User) -> dict[str, Message]:
    return known_mailbox(alice)


def found(user: User, box: dict[str, Message], query: str, **options: object) -> set[str]:
    names = {m.pk: name for name, m in box.items()}
    results = search_messages(user, query, **options)  # type: ignore[arg-type]
    return {names.get(hit.message_id, f"foreign #{hit.message_id}") for hit in results.hits}


@pytest.mark.parametrize(("query", "expected"), [
    ("budget", {"budget", "sent"}),
    ("meeting", {"budget", "meetings", "sent"}),
    ("Invoice", {"invoice"}),
    ("from:bob", {"budget"}),
    ("from:builder.example", {"budget"}),
    ("to:bob", {"sent"}),
    ("cc:bob", {"meetings"}),
    ("subject:budget", {"budget", "sent"}),
    ('subject:"budget review"', {"budget", "sent"}),
    ("has:attachment", {"budget", "japanese", "invoice"}),
    ("filename:pdf", {"budget", "japanese", "invoice"}),
    ("filename:invoice", {"invoice"}),
    ("is:unread", {"meetings", "german", "french", "russian", "japanese", "invoice",
                   "pending"}),
    ("is:read", {"budget", "sent"}),
    ("is:starred", {"meetings"}),
    ("in:inbox", INBOX),
    ("in:sent", {"sent"}),
    ("in:trash", {"trashed"}),
    ("in:Alpha", {"invoice"}),
    ("in:Projects/Alpha", {"invoice"}),
    ("account:Home", {"russian", "japanese", "pending"}),
    ("account:alice@work.example", ALL_BUT_TRASH - {"russian", "japanese", "pending"}),
    ("before:2024-02-01", {"budget", "sent"}),
    ("after:2024-04-10", {"japanese", "invoice", "pending"}),
    ("after:2024/04/11", {"invoice", "pending"}),
    ("larger:100K", {"budget"}),
    ("smaller:10K", {"meetings", "german", "french", "russian", "sent", "pending"}),
])
def test_each_operator_alone_finds_exactly_its_messages(
        alice: User, box: dict[str, Message], query: str, expected: set[str]) -> None:
    assert found(alice, box, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("from:bob has:attachment budget", {"budget"}),
    ("budget -in:sent", {"budget"}),
    ("budget OR invoice", {"budget", "sent", "invoice"}),
    ("is:unread has:attachment after:2024-03-01", {"japanese", "invoice"}),
    ("(from:dave OR from:bob) -is:read", {"meetings"}),
    ("budget before:2024-01-16 is:read", {"budget"}),
    ("meeting -from:dave account:Work", {"budget", "sent"}),
    ("has:attachment -filename:invoice larger:50K", {"budget", "japanese"}),
    ("-budget -meeting", {"german", "french", "russian", "japanese", "invoice", "pending"}),
    ("-has:attachment in:inbox -is:unread", set()),
    ("budget in:trash", {"trashed"}),
])
def test_operators_combine(alice: User, box: dict[str, Message], query: str,
                           expected: set[str]) -> None:
    assert found(alice, box, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ('"budget numbers"', {"budget"}),
    ('"numbers budget"', set()),
    ('"see you at the meeting"', {"sent"}),
    ('"crème brûlée"', {"french"}),
    ('-"budget numbers" budget', {"sent"}),
])
def test_phrases_match_words_in_order(alice: User, box: dict[str, Message], query: str,
                                      expected: set[str]) -> None:
    assert found(alice, box, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("café", {"french"}),
    ("CAFÉ", {"french"}),
    ("garçon", {"french"}),
    ("Größe", {"german"}),
    ("straße", {"german"}),
    ("Kraftfahrzeughaftpflichtversicherung", {"german"}),
    ("Versicherung", {"german"}),
    ("привет", {"russian"}),
    ("ПРИВЕТ", {"russian"}),
    ("отчёт бюджет", {"russian"}),
    ("予定", {"japanese"}),
    ("会議", {"japanese"}),
    ("報告書", {"japanese"}),
    ("確認", {"japanese"}),
    ("予定を確認", {"japanese"}),
    ("from:Jürgen", {"german"}),
    ("from:Иван", {"russian"}),
    ("from:山田", {"japanese"}),
    ("filename:資料", {"japanese"}),
    ("subject:会議", {"japanese"}),
])
def test_non_ascii_words_are_found(alice: User, box: dict[str, Message], query: str,
                                   expected: set[str]) -> None:
    assert found(alice, box, query) == expected


def test_german_compound_parts_and_japanese_infixes(alice: User, box: dict[str, Message]) -> None:
    # Stemmed words and prefixes; Japanese substrings (PostgreSQL: CJK bigrams; SQLite:
    # a phrase of characters).
    assert found(alice, box, "Rechtsschutz*") == {"german"}
    assert found(alice, box, "meetings") == {"budget", "meetings", "sent"}
    assert found(alice, box, "の予定") == {"japanese"}
    assert found(alice, box, "の予定を") == {"japanese"}
    assert found(alice, box, "予会") == set()  # characters not side by side
    # A part inside a compound is not a word of its own, on either backend.
    assert found(alice, box, "haftpflicht") == set()


@pytest.mark.parametrize(("query", "expected"), [
    ("from:rgen Versicherung", {"german"}),  # any part of a name, with a word
    ("from:uergen@gross Versicherung", {"german"}),
    ("from:grosse.example Größe", {"german"}),
    ("cc:uilder meetings", {"meetings"}),
    ("to:builder.exam meeting", {"sent"}),
    ("from:rgen meeting", set()),
    ("from:Петр Привет", {"russian"}),
])
def test_people_operators_match_parts_of_names_beside_words(
        alice: User, box: dict[str, Message], query: str, expected: set[str]) -> None:
    assert found(alice, box, query) == expected


def test_another_persons_mail_is_never_found(alice: User, bob: User,
                                             box: dict[str, Message]) -> None:
    bobs = make_account(bob, email="bob@bob.example")
    secret = make_message(make_folder(bobs), "Bob's budget", "budget budget budget",
                          sender=("Bob Builder", "bob@builder.example"), is_flagged=True)
    for query in ("budget", "from:bob", "is:starred", "-nothing", "has:attachment OR budget"):
        hits = search_messages(alice, query).hits
        assert secret.pk not in {h.message_id for h in hits}
    assert search_messages(alice, "budget", account_id=bobs.pk).hits == []
    assert [h.message_id for h in search_messages(bob, "budget").hits] == [secret.pk]
    assert search_messages(bob, "quarterly").hits == []


def test_pending_bodies_counts_the_persons_headers_only_messages(
        alice: User, bob: User, box: dict[str, Message]) -> None:
    make_message(make_folder(make_account(bob)), "x", body_state="headers")
    results = search_messages(alice, "budget")
    assert results.pending_bodies == 1
    assert search_messages(alice, "holiday").hits[0].body_pending


def test_relevance_prefers_the_subject_and_date_breaks_ties(
        alice: User, box: dict[str, Message]) -> None:
    hits = search_messages(alice, "invoice OR budget").hits
    assert len(hits) == 3
    ranked = search_messages(alice, "prototype").hits
    assert [h.message_id for h in ranked] == [box["invoice"].pk]
    by_date = search_messages(alice, "meeting", order="date").hits
    assert [h.message_id for h in by_date] == [box[n].pk for n in ("meetings", "sent",
                                                                   "budget")]
    by_rank = search_messages(alice, "meeting").hits
    assert by_rank[0].message_id == box["meetings"].pk  # in the subject


def test_pages_follow_the_cursor(alice: User, box: dict[str, Message]) -> None:
    first = search_messages(alice, "in:inbox", order="date", limit=3)
    second = search_messages(alice, "in:inbox", order="date", limit=3,
                             after_cursor=first.next_cursor)
    third = search_messages(alice, "in:inbox", order="date", limit=3,
                            after_cursor=second.next_cursor)
    ids = [h.message_id for page in (first, second, third) for h in page.hits]
    assert len(ids) == len(set(ids)) == len(INBOX)
    assert third.next_cursor is None


def test_snippets_escape_the_mail_and_mark_the_words(alice: User) -> None:
    folder = make_folder(make_account(alice))
    make_message(folder, "Hostile", "<script>alert(1)</script> the budget <b>plan</b> "
                 "\ue000 stray marker")
    snippet = search_messages(alice, "budget").hits[0].snippet
    assert "<" not in re.sub("</?mark>", "", snippet)  # only our own markup
    assert "<mark>budget</mark>" in snippet


def test_snippets_mark_the_words_where_they_stand_in_the_body(alice: User) -> None:
    folder = make_folder(make_account(alice))
    filler = "Nothing to see in this part of the letter. " * 12
    make_message(folder, "Plans", f"{filler}The meetings start at nine. {filler}")
    snippet = search_messages(alice, "meeting").hits[0].snippet
    assert snippet.startswith("… ") and "start at nine" in snippet
    # Stemmed: "meeting" found "meetings", and the whole word is marked.
    assert "<mark>meetings</mark>" in snippet
    stemmed = search_messages(alice, "meets").hits[0].snippet
    assert "<mark>meetings</mark>" in stemmed


@pytest.mark.parametrize("query", ['c++ NEAR/2 *draft* ^x', "AND OR: NOT", "a:b:c", "'",
                                   "\\", "%_%", '"*"', "{x}", "@"])
def test_fts_syntax_in_the_query_is_searched_for_not_obeyed(
        alice: User, box: dict[str, Message], query: str) -> None:
    search_messages(alice, query)  # no database error


def test_an_unreadable_query_raises_a_query_error(alice: User) -> None:
    with pytest.raises(QueryError):
        search_messages(alice, "before:someday")


def test_the_index_follows_updates_and_deletes_including_bulk_ones(
        alice: User, box: dict[str, Message]) -> None:
    Message.objects.filter(pk=box["french"].pk).update(subject="Tarte tatin")
    assert found(alice, box, "tatin") == {"french"}
    assert found(alice, box, "brûlée") == {"french"}  # still in the body
    Message.objects.filter(pk=box["french"].pk).update(search_text="nothing else")
    assert found(alice, box, "brûlée") == set()
    box["german"].delete()
    assert found(alice, box, "Versicherung") == set()
    folder = box["budget"].folder
    Message.objects.bulk_create([
        Message(account=folder.account, folder=folder, subject=f"Bulk zebra {i}")
        for i in range(3)])
    assert len(search_messages(alice, "zebra").hits) == 3


def test_flag_changes_leave_the_index_alone(alice: User, box: dict[str, Message]) -> None:
    message = box["budget"]
    message.is_seen = False
    message.save()
    assert found(alice, box, "budget is:unread") == {"budget"}


def test_reindex_rebuilds_every_entry(alice: User, box: dict[str, Message]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DELETE FROM search_search_document")
        else:
            cursor.execute("DELETE FROM search_fts")
    assert found(alice, box, "budget") == set()
    index_message(box["budget"].pk)
    assert found(alice, box, "budget") == {"budget"}
    assert reindex_all() == len(box)
    assert found(alice, box, "budget") == {"budget", "sent"}


def test_the_reindex_command_rebuilds_the_index(alice: User, box: dict[str, Message]) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("search_reindex", stdout=out)
    assert f"Indexed {len(box)} message(s)" in out.getvalue()
    call_command("search_reindex", "--message", str(box["budget"].pk), stdout=out)
    call_command("search_reindex", "--optimize", stdout=out)
    assert "Optimized" in out.getvalue()
    assert found(alice, box, "budget") == {"budget", "sent"}


def test_relevance_ranks_the_newest_matches_and_date_order_reaches_all(
        alice: User, box: dict[str, Message], monkeypatch: pytest.MonkeyPatch) -> None:
    from webmail.search import service

    monkeypatch.setattr(service, "RANK_CANDIDATES", 2)
    assert found(alice, box, "meeting") == {"meetings", "sent"}  # 2024-02-20, 2024-01-16
    assert found(alice, box, "meeting", order="date") == {"budget", "meetings", "sent"}


def test_a_phrase_finds_older_adjacent_words_past_newer_messages_holding_both_apart(
        alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from webmail.search import service

    account = make_account(alice, email="phrases@example.test")
    inbox, trash = make_folder(account, "INBOX", "inbox"), make_folder(account, "Trash", "trash")
    for day in range(10, 20):  # newer: both words, never side by side
        make_message(inbox, "notes", "the review of the garden meeting", day=f"2024-05-{day}")
    wanted = {make_message(inbox, "a", "please send the meeting review today",
                           day="2024-04-02").pk,
              make_message(inbox, "b", "Meeting review: done", day="2024-04-01").pk}
    make_message(trash, "c", "the meeting review in the bin", day="2024-06-01")
    monkeypatch.setattr(service, "RANK_CANDIDATES", 2)

    results = search_messages(alice, '"meeting review"')

    assert {hit.message_id for hit in results.hits} == wanted


def test_ranked_candidates_are_the_persons_own_past_newer_foreign_and_trashed_matches(
        alice: User, bob: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The newest matches are picked while walking the index, not after it: newer
    matches of another person, of trash and of junk must not take the candidates'
    places."""
    from webmail.search import service

    mine = make_account(alice, email="walk@example.test")
    inbox = make_folder(mine)
    wanted = {make_message(inbox, f"zebra {i}", "a zebra crossing", day=f"2024-04-0{i}").pk
              for i in (1, 2)}
    make_message(make_folder(mine, "Trash", "trash"), "zebra", "zebra", day="2024-05-01")
    make_message(make_folder(mine, "Junk", "junk"), "zebra", "zebra", day="2024-05-02")
    theirs = make_folder(make_account(bob, email="bobwalk@example.test"))
    for day in range(10, 16):
        make_message(theirs, "zebra", "zebra zebra", day=f"2024-05-{day}")
    monkeypatch.setattr(service, "RANK_CANDIDATES", 2)

    assert {h.message_id for h in search_messages(alice, "zebra").hits} == wanted
    assert {h.message_id for h in search_messages(alice, '"zebra crossing"').hits} == wanted


def test_relevance_weighs_where_and_how_often_a_word_occurs(alice: User) -> None:
    inbox = make_folder(make_account(alice, email="rank@example.test"))
    once = make_message(inbox, "notes", "one walrus here and other words", day="2024-06-03")
    often = make_message(inbox, "notes", "walrus walrus walrus and other words",
                         day="2024-06-01")
    subject = make_message(inbox, "Walrus sighting", "nothing else", day="2024-05-01")

    ranked = [h.message_id for h in search_messages(alice, "walrus").hits]

    assert ranked == [subject.pk, often.pk, once.pk]
    assert [h.message_id for h in search_messages(alice, "walrus", order="date").hits] == [
        once.pk, often.pk, subject.pk]


def test_a_phrase_of_words_apart_in_many_messages_finds_exactly_the_adjacent_ones(
        alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The words of "design flight" are in every message, side by side in three; each
    way to the index (relevance, date order, with a filter, under OR and minus) finds
    exactly those three."""
    from webmail.search import service

    inbox = make_folder(make_account(alice, email="pairs@example.test"))
    for day in range(1, 25):
        make_message(inbox, "notes", f"the flight {day} and a new design", day=f"2024-05-{day:02}")
    bob = ("Bob Builder", "bob@builder.example")
    late = make_message(inbox, "plan", "our design flight is late", day="2024-01-03")
    from_bob = make_message(inbox, "Design flight", "see subject", day="2024-01-02",
                            sender=bob)
    wanted = {late.pk, from_bob.pk,
              make_message(inbox, "plan", "DESIGN Flight tomorrow", day="2024-01-01").pk}
    everything = set(Message.objects.filter(folder=inbox).values_list("id", flat=True))
    monkeypatch.setattr(service, "RANK_CANDIDATES", 3)  # fewer than the apart ones

    def ids(query: str, **options: object) -> set[int]:
        results = search_messages(alice, query, **options)  # type: ignore[arg-type]
        return {h.message_id for h in results.hits}

    assert ids('"design flight"') == wanted
    assert ids('"design flight"', order="date") == wanted
    assert ids('"flight design"') == set()
    assert ids('from:bob "design flight"') == {from_bob.pk}
    assert ids('"design flight" OR "no such phrase"') == wanted
    assert ids('flight -"design flight"', order="date") == everything - wanted
    assert ids('"our design flight is late"') == {late.pk}
    assert ids('"design flight" late') == {late.pk}


@pytest.mark.parametrize("phrase", [
    "o'brien's design", "c:\\temp\\x design", "it''s \\' design", "x'\\y design"])
def test_phrases_with_quotes_and_backslashes_are_searched_for(alice: User,
                                                                phrase: str) -> None:
    inbox = make_folder(make_account(alice, email="quotes@example.test"))
    message = make_message(inbox, "q", f"before {phrase} after")
    query = '"' + phrase.replace('"', "") + '"'
    assert {h.message_id for h in search_messages(alice, query).hits} == {message.pk}


def test_a_message_too_large_for_word_pairs_is_still_found_by_phrase(alice: User) -> None:
    """60,000 different words: the vector and its pairs would pass PostgreSQL's 1 MB
    limit, so the pairs are left out (and the lookup accepts such a vector)."""
    import random

    rng = random.Random(8)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=9)) for _ in range(60_000)]
    inbox = make_folder(make_account(alice, email="huge@example.test"))
    huge = make_message(inbox, "huge", " ".join(words[:100] + ["zephyr", "quokka"] + words[100:]))
    make_message(inbox, "apart", "zephyr and then quokka")

    assert {h.message_id for h in search_messages(alice, '"zephyr quokka"').hits} == {huge.pk}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT vector @@ %s::tsquery FROM search_search_document "
                           "WHERE message_id = %s", ["' pairs omitted'", huge.pk])
            assert cursor.fetchone()[0]


def test_reindex_rebuilds_what_phrases_are_looked_up_by(alice: User,
                                                         box: dict[str, Message]) -> None:
    assert reindex_all() == len(box)
    assert found(alice, box, '"budget numbers"') == {"budget"}
    assert found(alice, box, '"see you at the meeting"') == {"sent"}
