"""`manage.py search_reindex [--message ID]`: rebuild the search index.

After a change to the index format (webmail/search/schema.py) or a repair; the
triggers keep it current otherwise. Reparsing raw messages into new search_text is the
mail app's job; its writes reach the index through the triggers.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webmail.search.indexing import index_message, optimize_index, reindex_all


class Command(BaseCommand):
    help = "Rebuild the full-text search index (all messages, or one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--message", type=int, help="only this message id")
        parser.add_argument("--optimize", action="store_true",
                            help="only merge the SQLite FTS5 index into one segment")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if options["optimize"]:
            optimize_index()
            self.stdout.write(f"Optimized in {time.monotonic() - started:.1f} s.")
            return
        if options["message"]:
            index_message(options["message"])
            count = 1
        else:
            count = reindex_all()
        seconds = time.monotonic() - started
        self.stdout.write(f"Indexed {count} message(s) in {seconds:.1f} s.")
