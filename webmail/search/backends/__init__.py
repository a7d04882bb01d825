"""One interface, two engines: PostgreSQL full-text search and SQLite FTS5."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.safestring import SafeString

from webmail.mail.models import Message
from webmail.search.query import Text


class Backend(Protocol):
    def text_q(self, term: Text) -> Q:
        """Messages containing one term (for terms under OR or a minus)."""

    def match(self, messages: QuerySet[Message], terms: Sequence[Text], *,
              people: Sequence[str] = ()) -> QuerySet[Message]:
        """Messages containing all `terms` (at least one term).

        `people` are the values of top-level from:/to:/cc: operators, which `messages`
        already filters on exactly; a backend may use them to narrow its index lookup."""

    def newest_ids(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                   *, account_ids: list[int] | None = None) -> list[int]:
        """Ids of the newest `count` of `matched`, newest first (date, then id).
        `account_ids` as for newest_ranked."""

    def newest_ranked(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                      *, account_ids: list[int] | None = None,
                      ) -> list[tuple[int, float, datetime | None]]:
        """(id, rank, date) of the newest `count` of `matched`; higher rank is better.

        `account_ids` says that `matched` filters on nothing but those accounts (and
        trash), so the backend may pick candidates from its index alone."""

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        """Highlighted snippets for the page's hits."""


def get_backend() -> Backend:
    if connection.vendor == "postgresql":
        from webmail.search.backends.postgres import PostgresBackend

        return PostgresBackend()
    from webmail.search.backends.sqlite import SqliteBackend

    return SqliteBackend()
