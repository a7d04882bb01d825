"""SQLite: the FTS5 table search_fts (words, stemmed; schema.py), bm25 with column weights.

Each term is one quoted FTS5 phrase (FTS5 query syntax would otherwise reject
`c++ (draft`), tokenized by the index's own tokenizer: case folded, English stems,
accents kept, `word*` a prefix. CJK characters are spaced apart as the index spaces them
(index_text.py), so 予定 is the phrase "予 定" and finds 会議の予定. A term with no word
in it ("@", "%_%") matches nothing, as on PostgreSQL. Free text is looked up in the
subject, people and body columns; the grams column serves from:, to: and cc: (match).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from webmail.mail.models import Folder, FolderRole, Message
from webmail.search import index_text
from webmail.search.highlight import body_of, highlight
from webmail.search.query import Text, words_and_cjk_runs

# Ranking: FTS5's bm25 formula with column weights subject, people, body, computed here
# over the candidates (see newest_ranked).
COLUMN_WEIGHTS = (10.0, 4.0, 1.0)
BM25_K1, BM25_B = 1.2, 0.75
TEXT_COLUMNS = "{subject people body}"
_SUFFIXES = ("ings", "ing", "ies", "ied", "es", "ed", "s")


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _needle(term: Text) -> str:
    return " ".join(term.value.split())


def fts_phrase(term: Text) -> str:
    """The term as one FTS5 phrase (a prefix phrase for `word*`) in the text columns."""
    phrase = quoted(index_text.spaced(_needle(term)) or "")
    return f"{TEXT_COLUMNS} : {phrase} *" if term.prefix else f"{TEXT_COLUMNS} : {phrase}"


def people_phrases(value: str) -> list[str]:
    """Phrases of the grams column that every message whose from, to or cc holds
    `value` (as a substring) matches: one per word of three characters or more."""
    return [f"grams : {quoted(' '.join(pieces))}" for pieces in index_text.value_grams(value)]


def _expression(terms: Sequence[Text]) -> str:
    return " AND ".join(fts_phrase(t) for t in terms)


def word_start(word: str) -> str:
    """The start every form of an English word shares, about its Porter stem
    ("meetings", "meets" -> "meet"): the snippet marks and the ranking count words
    beginning with it, as the index matched them."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


class SqliteBackend:
    def text_q(self, term: Text) -> Q:
        return Q(id__in=RawSQL("SELECT rowid FROM search_fts WHERE search_fts MATCH %s",
                               (fts_phrase(term),)))

    def match(self, messages: QuerySet[Message], terms: Sequence[Text], *,
              people: Sequence[str] = ()) -> QuerySet[Message]:
        terms = [t for t in terms if _needle(t)]
        if not terms:
            return messages
        # from:bob with a common word: the grams column holds every from:/to:/cc: match
        # (and a few more: the exact filter on `messages` applies them), so ANDing it
        # lets FTS5 skip through the word's long doclist (a sender's 500 messages among
        # 98,000 with the word: 3 ms, against 300 ms walking them, bench/search.py).
        narrow = [phrase for value in people for phrase in people_phrases(value)]
        expression = " AND ".join([_expression(terms), *narrow])
        return messages.extra(  # noqa: S610  (parameterised; FTS5 needs the table joined)
            tables=["search_fts"],
            where=["search_fts.rowid = mail_message.id", "search_fts MATCH %s"],
            params=[expression],
        )

    def newest_ids(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                   *, account_ids: list[int] | None = None) -> list[int]:
        return list(matched.order_by(F("date").desc(nulls_last=True), F("id").desc())
                    .values_list("id", flat=True)[:count])

    def newest_ranked(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                      *, account_ids: list[int] | None = None,
                      ) -> list[tuple[int, float, datetime | None]]:
        # The newest-stored `count` matches (rowid order, which FTS5 serves without
        # sorting, so the walk stops at `count`), ranked here rather than by FTS5's
        # bm25(): bm25 first counts every row holding each phrase (its IDF), a full
        # pass over the index for a common word whatever the LIMIT (200-300 ms of a
        # 100,000-message mailbox, bench/search.py).
        terms = [t for t in terms if _needle(t)]
        if not terms:
            rows = matched.order_by("-id").values_list("id", "date")[:count]
            return [(pk, 0.0, date) for pk, date in rows]
        if account_ids is not None:
            candidates = self._newest_of_accounts(terms, count, account_ids)
        else:
            newest = matched.extra(order_by=["-search_fts.rowid"])  # noqa: S610
            candidates = list(newest.values_list("id", "date")[:count])
        scores = _scores([pk for pk, _date in candidates], terms)
        return [(pk, scores.get(pk, 0.0), date) for pk, date in candidates]

    def _newest_of_accounts(self, terms: Sequence[Text], count: int,
                            account_ids: list[int]) -> list[tuple[int, datetime | None]]:
        """(id, date) of the newest-stored `count` matches in these accounts, less trash
        and junk. FTS5 is forced to the outer loop (CROSS JOIN): with the owner as a
        bound parameter SQLite otherwise starts from the accounts, collects every match
        and sorts them (USE TEMP B-TREE FOR ORDER BY), 0.5 s for a common word."""
        if not account_ids:
            return []
        hidden = list(Folder.objects.filter(
            account_id__in=account_ids, role__in=[FolderRole.TRASH, FolderRole.JUNK])
            .values_list("id", flat=True)) or [0]
        accounts = ", ".join(["%s"] * len(account_ids))
        folders = ", ".join(["%s"] * len(hidden))
        if _index_first(account_ids, count):
            joined = "search_fts CROSS JOIN mail_message AS m"
        else:
            joined = "mail_message AS m CROSS JOIN search_fts"
        sql = (f"SELECT m.id FROM {joined} "  # noqa: S608
               "ON m.id = search_fts.rowid WHERE search_fts MATCH %s "
               f"AND m.account_id IN ({accounts}) AND m.folder_id NOT IN ({folders}) "
               "ORDER BY search_fts.rowid DESC LIMIT %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [_expression(terms), *account_ids, *hidden, count])
            ids = [pk for (pk,) in cursor.fetchall()]
        dates = dict(Message.objects.filter(id__in=ids).values_list("id", "date")) if ids else {}
        return [(pk, dates[pk]) for pk in ids]

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        rows = Message.objects.filter(id__in=ids).values_list("id", "search_text", "snippet")
        if not terms:
            return {pk: highlight(snippet, ()) for pk, _text, snippet in rows}
        words, runs = words_and_cjk_runs(terms)
        starts = [*words, *(word_start(w.lower()) for w in words)]
        return {pk: highlight(body_of(text) or snippet, runs, word_starts=starts)
                for pk, text, snippet in rows}


def _index_first(account_ids: list[int], count: int) -> bool:
    """Walk the index newest first (and stop at `count`) or start from the person's
    messages (and test each against the index)? The index holds every person's mail:
    the walk passes about count x (site's messages / theirs) rows before it has
    `count` of theirs, the other plan one probe per message of theirs. On a site of
    40,000 messages a person with 200 had every search walk all of everyone's matches
    of the word (480 ms of CPU in bench/load.py); one person with 100,000 would probe
    them all (0.5 s). Both counts are index lookups."""
    theirs = Message.objects.filter(account_id__in=account_ids).count()
    site = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return theirs * theirs > count * site


def _scores(ids: Sequence[int], terms: Sequence[Text]) -> dict[int, float]:
    """bm25 as FTS5 computes it (column weights, k1, b; lengths in characters), over the
    candidates' indexed text, each term counted by its stem (about: a substring count).
    Without the inverse document frequency, which needs every match counted: for one
    term it scales every score alike, so only queries of several terms rank a little
    differently (each term counts the same rather than the rarer more)."""
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT rowid, subject, people, body FROM search_fts "  # noqa: S608
                       f"WHERE rowid IN ({marks})", list(ids))
        rows = cursor.fetchall()
    if not rows:
        return {}
    words, runs = words_and_cjk_runs(terms)
    # Counted as substrings (str.count): a regex for word starts was 86 ms a query of
    # 500 candidates (bench/search.py), this a few; the index already chose the rows.
    needles = [word_start(w.lower()) for w in words]
    needles += [(index_text.spaced(r) or "").strip() for r in runs]  # as the index holds them
    columns = [(pk, [(t or "").lower() for t in texts]) for pk, *texts in rows]
    average = sum(sum(len(t) for t in texts) for _pk, texts in columns) / len(columns)
    average = average or 1.0
    scores = {}
    for pk, texts in columns:
        length = sum(len(t) for t in texts)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
        score = 0.0
        for needle in needles:
            freq = sum(w * t.count(needle) for w, t in zip(COLUMN_WEIGHTS, texts, strict=True))
            score += freq * (BM25_K1 + 1) / (freq + norm)
        scores[pk] = score
    return scores
