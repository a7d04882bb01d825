"""One interface, two engines: PostgreSQL full-text search and SQLite FTS5."""

from __future__ import annotations

from collections.abc import Sequence
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
              ranked: bool) -> QuerySet[Message]:
        """Messages containing all `terms`, annotated with `rank` (higher is better)."""

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        """Highlighted snippets for the page's hits."""


def get_backend() -> Backend:
    if connection.vendor == "postgresql":
        from webmail.search.backends.postgres import PostgresBackend

        return PostgresBackend()
    from webmail.search.backends.sqlite import SqliteBackend

    return SqliteBackend()
