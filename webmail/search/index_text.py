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


# Each GRAM characters of a word, overlapping: a match at every position that starts
# them (the lookahead consumes nothing), in the order word_grams gives word by word.
_GRAMS = re.compile(rf"(?=(\w{{{GRAM}}}))")


def grams(text: str | None) -> str | None:
    """Every word's pieces, space separated (None stays None)."""
    if not text:
        return text
    return " ".join(_GRAMS.findall(text.lower()))


def value_grams(value: str) -> list[list[str]]:
    """The pieces of each word of a from:/to:/cc: value, for words of GRAM or more."""
    return [word_grams(w) for w in _WORD.findall(value.lower()) if len(w) >= GRAM]


def register(dbapi_connection: object) -> None:
    """Make the functions callable in this SQLite connection's SQL."""
    for name, function in ((SPACED_FUNCTION, spaced), (GRAMS_FUNCTION, grams)):
        dbapi_connection.create_function(  # type: ignore[attr-defined]
            name, 1, function, deterministic=True)


# --- A row of the index computed in Python -----------------------------------------
# The same values as schema.sqlite_values computes in SQL from a stored mail_message
# row (tests/search/test_index_rows.py compares both), so that a sync's writer inserts
# them directly: the SQL functions and json_each over each written row were half of
# the index's cost in a first sync's writer thread (a /tmp script on a bench database).

FtsRow = tuple[str, str, str, str]  # subject, people, body, grams (schema.FTS_COLUMNS)


def json_list_text(items: list[object]) -> str | None:
    """What schema._sqlite_json makes of a JSON list column: [name, address] pairs and
    strings joined by spaces; None for anything else (the SQL then decides)."""
    words: list[str] = []
    for item in items:
        if isinstance(item, str):
            words.append(item)
        elif (isinstance(item, list) and len(item) == 2
              and all(isinstance(part, str) for part in item)):
            words.append(f"{item[0]} {item[1]}")
        else:
            return None
    return " ".join(words)


def fts_row(subject: str, from_name: str, from_address: str, to: list[object],
            cc: list[object], spaced_search_text: str, attachment_names: list[object],
            ) -> FtsRow | None:
    """The index's columns for a row with these stored values, the search text already
    `spaced` (where it was parsed); None when only the SQL can say (an odd JSON value)."""
    to_text, cc_text = json_list_text(to), json_list_text(cc)
    names = json_list_text(attachment_names)
    if to_text is None or cc_text is None or names is None:
        return None
    people = f"{from_name} {from_address} {to_text} {cc_text}"
    return (spaced(subject) or "", spaced(people) or "",
            f"{spaced_search_text} {spaced(names)}", grams(people) or "")
