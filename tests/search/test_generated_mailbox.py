"""A generated mailbox (bench.generator) stored through ingest, searched for the facts
the generator reports: the parser, the store and the index together."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from bench.generator import generate_with_meta
from tests.conftest import make_account
from tests.search.factories import make_folder
from webmail.mail.ingest import store_full_message
from webmail.mail.models import Message
from webmail.search.service import search_messages

pytestmark = [pytest.mark.django_db, pytest.mark.dbspecific]

COUNT = 90
WORDS = ("Größe", "Straße", "Donaudampfschifffahrtsgesellschaft", "Fußgänger", "привет",
         "отчёт", "Москва", "会議", "報告書", "東京", "café", "résumé", "niño", "Übersicht")


@pytest.fixture
def generated(alice: User) -> list[tuple[int, dict[str, Any]]]:
    folder = make_folder(make_account(alice))
    stored = []
    for uid, (raw, meta) in enumerate(generate_with_meta(COUNT, seed=7), start=1):
        message = Message.objects.create(account=folder.account, folder=folder,
                                         uidvalidity=1, uid=uid)
        store_full_message(message, raw)
        stored.append((message.pk, meta))
    return stored


def ids(user: User, query: str) -> set[int]:
    return {h.message_id for h in search_messages(user, query, limit=200).hits}


def test_operators_find_exactly_the_generated_facts(
        alice: User, generated: list[tuple[int, dict[str, Any]]]) -> None:
    with_attachment = {pk for pk, meta in generated if meta["has_attachment"]}
    assert with_attachment and ids(alice, "has:attachment") == with_attachment
    assert ids(alice, "-has:attachment") == {pk for pk, _ in generated} - with_attachment
    for address in sorted({meta["from_address"] for _, meta in generated})[:6]:
        expected = {pk for pk, meta in generated if meta["from_address"] == address}
        assert ids(alice, f"from:{address}") == expected, address
    middle = sorted(meta["date"] for _, meta in generated)[COUNT // 2]
    day = middle.date().isoformat()
    assert ids(alice, f"after:{day}") == {
        pk for pk, meta in generated if meta["date"].date() >= middle.date()}
    assert ids(alice, f"before:{day}") == {
        pk for pk, meta in generated if meta["date"].date() < middle.date()}
    sizes = {pk: meta["size"] for pk, meta in generated}
    assert ids(alice, "larger:100K") == {pk for pk, size in sizes.items() if size > 102_400}


def test_words_in_every_script_are_found_where_the_generator_put_them(
        alice: User, generated: list[tuple[int, dict[str, Any]]]) -> None:
    tested = 0
    for word in WORDS:
        needle = word.casefold()
        expected = {pk for pk, meta in generated if needle in " ".join(
            [meta["subject"], meta["from"], *meta["words"],
             *(name for name, _type, _size in meta["attachments"])]).casefold()}
        if not expected:
            continue
        tested += 1
        assert ids(alice, word) == expected, word
    assert tested >= 10


def test_a_subject_phrase_finds_its_message(
        alice: User, generated: list[tuple[int, dict[str, Any]]]) -> None:
    for pk, meta in generated[:20]:
        words = meta["subject"].removeprefix("Re: ").split()
        if len(words) >= 2 and all(w.isascii() and len(w) > 3 for w in words[:2]):
            assert pk in ids(alice, f'"{words[0]} {words[1]}"')
