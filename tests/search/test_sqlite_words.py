"""SQLite's FTS5 index of words (schema.SQLITE_TOKENIZER): the migration that makes it
from the trigram index of earlier versions, and the CJK spacing its triggers call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from tests.conftest import make_account
from tests.search.factories import make_folder, make_message
from webmail.search import index_text, schema
from webmail.search.backends.sqlite import word_start
from webmail.search.service import search_messages

pytestmark = pytest.mark.dbspecific
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index")


def test_cjk_characters_are_spaced_apart_and_other_text_is_left_alone() -> None:
    assert index_text.spaced("会議の予定 ok") == " 会 議 の 予 定  ok"
    assert index_text.spaced("Größe straße") == "Größe straße"
    assert index_text.spaced(None) is None
    assert index_text.spaced("") == ""


def test_grams_are_the_three_character_pieces_of_each_word() -> None:
    assert index_text.grams("Berost <b.ost@x.io>") == "ber ero ros ost ost"
    assert index_text.grams(None) is None
    assert index_text.value_grams("Ber@xy abcd") == [["ber"], ["abc", "bcd"]]


@pytest.mark.parametrize(("word", "start"), [
    ("meetings", "meet"), ("meets", "meet"), ("meeting", "meet"), ("budget", "budget"),
    ("is", "is"), ("bus", "bus"), ("studies", "stud"),
])
def test_word_start_is_what_every_form_of_the_word_begins_with(word: str, start: str) -> None:
    assert word_start(word) == start


def _index_sql() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'search_fts'")
        return str(cursor.fetchone()[0])


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_a_trigram_index_into_words_and_keeps_every_message(
        alice: User) -> None:
    folder = make_folder(make_account(alice))
    message = make_message(folder, "Quarterly meetings", "会議の予定 and the numbers")
    executor = MigrationExecutor(connection)
    executor.migrate([("search", "0006_sqlite_merge_settings")])
    with connection.cursor() as cursor:  # the index as versions before 0007 made it
        schema.uninstall(cursor, "sqlite")
        for statement in schema.SQLITE_INSTALL:
            cursor.execute(statement.replace(schema.SQLITE_TOKENIZER, "trigram"))
        schema.rebuild(cursor, "sqlite")
    assert "trigram" in _index_sql()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert schema.SQLITE_TOKENIZER in _index_sql()
    for query in ("meeting", "予定", "numbers"):
        assert [h.message_id for h in search_messages(alice, query).hits] == [message.pk]
