"""SQLite: the FTS5 table search_fts (trigram tokenizer), bm25 with column weights.

Trigrams make every term a case-insensitive substring match: "versicherung" finds
"Rechtsschutzversicherungsgesellschaften" and 予定 finds 会議の予定. Terms are always
quoted before MATCH (FTS5 query syntax would otherwise reject `c++ (draft`); a term
shorter than three characters has no trigram and falls back to LIKE over the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from webmail.mail.models import Folder, FolderRole, Message
from webmail.search.highlight import body_of, highlight
from webmail.search.query import Text

MIN_TRIGRAM = 3
# Ranking: FTS5's bm25 formula with column weights subject, people, body, computed here
# over the candidates (see newest_ranked).
COLUMN_WEIGHTS = (10.0, 4.0, 1.0)
BM25_K1, BM25_B = 1.2, 0.75


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _needle(term: Text) -> str:
    return " ".join(term.value.split())


def _short(term: Text) -> bool:
    return len(_needle(term)) < MIN_TRIGRAM


def _like_ids(term: Text) -> RawSQL:
    pattern = _like(_needle(term))
    sql = ("SELECT rowid FROM search_fts WHERE subject LIKE %s ESCAPE '\\' "
           "OR people LIKE %s ESCAPE '\\' OR body LIKE %s ESCAPE '\\'")
    return RawSQL(sql, (pattern, pattern, pattern))  # noqa: S611  (parameterised)


class SqliteBackend:
    def text_q(self, term: Text) -> Q:
        if _short(term):
            return Q(id__in=_like_ids(term))
        return Q(id__in=RawSQL("SELECT rowid FROM search_fts WHERE search_fts MATCH %s",
                               (quoted(_needle(term)),)))

    def match(self, messages: QuerySet[Message], terms: Sequence[Text], *,
              people: Sequence[str] = ()) -> QuerySet[Message]:
        long_terms = [t for t in terms if not _short(t) and _needle(t)]
        for term in terms:
            if _short(term) and _needle(term):
                messages = messages.filter(id__in=_like_ids(term))
        if not long_terms:
            return messages
        expression = " AND ".join(quoted(_needle(t)) for t in long_terms)
        # from:bob with a common word: the people column (from, to, cc) holds every
        # from: match, so ANDing it lets FTS5 skip through the word's long doclist.
        narrow = [f"people : {quoted(p)}" for p in people if len(p) >= MIN_TRIGRAM]
        expression = " AND ".join([expression, *narrow])
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
        needles = [_needle(t) for t in terms if not _short(t) and _needle(t)]
        if not needles:
            rows = matched.order_by("-id").values_list("id", "date")[:count]
            return [(pk, 0.0, date) for pk, date in rows]
        if account_ids is not None and not any(_short(t) for t in terms if _needle(t)):
            candidates = self._newest_of_accounts(needles, count, account_ids)
        else:
            newest = matched.extra(order_by=["-search_fts.rowid"])  # noqa: S610
            candidates = list(newest.values_list("id", "date")[:count])
        scores = _scores([pk for pk, _date in candidates], needles)
        return [(pk, scores.get(pk, 0.0), date) for pk, date in candidates]

    def _newest_of_accounts(self, needles: Sequence[str], count: int,
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
        expression = " AND ".join(quoted(n) for n in needles)
        with connection.cursor() as cursor:
            cursor.execute(sql, [expression, *account_ids, *hidden, count])
            ids = [pk for (pk,) in cursor.fetchall()]
        dates = dict(Message.objects.filter(id__in=ids).values_list("id", "date")) if ids else {}
        return [(pk, dates[pk]) for pk in ids]

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        needles = [_needle(t) for t in terms]
        rows = Message.objects.filter(id__in=ids).values_list("id", "search_text", "snippet")
        if not needles:
            return {pk: highlight(snippet, ()) for pk, _text, snippet in rows}
        return {pk: highlight(body_of(text) or snippet, needles) for pk, text, snippet in rows}


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


def _scores(ids: Sequence[int], needles: Sequence[str]) -> dict[int, float]:
    """bm25 as FTS5 computes it (column weights, k1, b; lengths in characters, about
    its trigram count), over the candidates' indexed text. Without the inverse document
    frequency, which needs every match counted: for one term it scales every score
    alike, so only queries of several terms rank a little differently (each term
    counts the same rather than the rarer more)."""
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT rowid, subject, people, body FROM search_fts "  # noqa: S608
                       f"WHERE rowid IN ({marks})", list(ids))
        rows = cursor.fetchall()
    if not rows:
        return {}
    lowered = [n.lower() for n in needles]
    columns = []
    for pk, *texts in rows:
        columns.append((pk, [(t or "").lower() for t in texts]))
    average = sum(sum(len(t) for t in texts) for _pk, texts in columns) / len(columns)
    average = average or 1.0
    scores = {}
    for pk, texts in columns:
        length = sum(len(t) for t in texts)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
        score = 0.0
        for needle in lowered:
            freq = sum(w * t.count(needle) for w, t in zip(COLUMN_WEIGHTS, texts, strict=True))
            score += freq * (BM25_K1 + 1) / (freq + norm)
        scores[pk] = score
    return scores
