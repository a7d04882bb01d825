from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The SQLite index's triggers call these functions: every connection that can
    # write mail_message needs them.
    if connection.vendor == "sqlite":
        from webmail.search import index_text

        index_text.register(connection.connection)


class SearchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webmail.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        connection_created.connect(_register_sqlite_functions,
                                   dispatch_uid="search_sqlite_functions")
