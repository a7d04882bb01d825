"""Text as SQLite's FTS5 index of words holds it (schema.py), made by SQL functions that
apps.py registers on every SQLite connection, whose triggers call them; the query side
(backends/sqlite.py) shapes its terms with the same functions. No Django imports.

- `spaced`: Japanese, Chinese and Korean have no spaces between words, so every CJK
  character becomes a word of its own and a CJK query is a phrase of its characters:
  予定 finds 会議の予定, as a substring.
- `grams`: the overlapping three-character pieces of each word of the people (from, to,
  cc), as words. from:, to: and cc: match any part of a name or an address ("ost"
  finds "Berost"), which words cannot: the phrase of a value's pieces finds every
  message whose people hold that value (and a few more, which the exact filter then
  drops), inside the same FTS5 query as the free words, so a sender's messages among
  the 98,000 holding a common word are found without walking them all.
"""

from __future__ import annotations

import re

from webmail.search.schema import CJK_CLASS

SPACED_FUNCTION = "search_cjk_spaced"
GRAMS_FUNCTION = "search_grams"
_CJK_RUN = re.compile(f"{CJK_CLASS}+")
_WORD = re.compile(r"\w+")
GRAM = 3


def spaced(text: str | None) -> str | None:
    """`text` with a space around every CJK character (None stays None)."""
    if not text or text.isascii():
        return text
    # One call per run, not a template expanded per character (py-spy: the template
    # was 40% of this function's time in a first sync's writer thread).
    return _CJK_RUN.sub(_space_run, text)


def _space_run(match: re.Match[str]) -> str:
    return " " + " ".join(match.group()) + " "


def word_grams(word: str) -> list[str]:
    """The overlapping pieces of one word, lower case; none for a word under GRAM."""
    return [word[i:i + GRAM] for i in range(len(word) - GRAM + 1)]


def grams(text: str | None) -> str | None:
    """Every word's pieces, space separated (None stays None)."""
    if not text:
        return text
    return " ".join(g for w in _WORD.findall(text.lower()) for g in word_grams(w))


def value_grams(value: str) -> list[list[str]]:
    """The pieces of each word of a from:/to:/cc: value, for words of GRAM or more."""
    return [word_grams(w) for w in _WORD.findall(value.lower()) if len(w) >= GRAM]


def register(dbapi_connection: object) -> None:
    """Make the functions callable in this SQLite connection's SQL."""
    for name, function in ((SPACED_FUNCTION, spaced), (GRAMS_FUNCTION, grams)):
        dbapi_connection.create_function(  # type: ignore[attr-defined]
            name, 1, function, deterministic=True)
