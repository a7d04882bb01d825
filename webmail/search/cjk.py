"""CJK text for a word tokenizer: Japanese, Chinese and Korean have no spaces between
words, so SQLite's FTS5 index (unicode61) sees every CJK character as a word of its own,
and a CJK query is a phrase of its characters: 予定 finds 会議の予定, as a substring.
The index and the query side space the text alike. No Django imports: the function is
registered on every SQLite connection (apps.py), whose triggers call it."""

from __future__ import annotations

import re

from webmail.search.schema import CJK_CLASS

SQL_FUNCTION = "search_cjk_spaced"
_CJK_CHAR = re.compile(f"({CJK_CLASS})")
_HAS_CJK = re.compile(CJK_CLASS)


def spaced(text: str | None) -> str | None:
    """`text` with a space around every CJK character (None stays None)."""
    if not text or not _HAS_CJK.search(text):
        return text
    return _CJK_CHAR.sub(r" \1 ", text)


def register(dbapi_connection: object) -> None:
    """Make `search_cjk_spaced(text)` callable in this SQLite connection's SQL."""
    dbapi_connection.create_function(  # type: ignore[attr-defined]
        SQL_FUNCTION, 1, spaced, deterministic=True)
