"""SQLite's FTS5 index keeps its merge settings (schema.SQLITE_MERGE_SETTINGS) after the
migrations and after a reindex, which installs the schema again."""

from __future__ import annotations

import pytest
from django.db import connection

from webmail.search.indexing import reindex_all

pytestmark = [pytest.mark.django_db, pytest.mark.dbspecific]


def _settings() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT k, v FROM search_fts_config WHERE k IN "
                       "('automerge', 'crisismerge')")
        return {key: int(value) for key, value in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index")
def test_the_index_merges_less_often_than_fts5_by_default() -> None:
    assert _settings() == {"automerge": 8, "crisismerge": 32}
    reindex_all()
    assert _settings() == {"automerge": 8, "crisismerge": 32}
