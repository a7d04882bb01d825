"""SQLite: the FTS5 table search_fts (trigram tokenizer), bm25 with column weights.

Trigrams make every term a case-insensitive substring match: "versicherung" finds
"Rechtsschutzversicherungsgesellschaften" and 予定 finds 会議の予定. Terms are always
quoted before MATCH (FTS5 query syntax would otherwise reject `c++ (draft`); a term
shorter than three characters has no trigram and falls back to LIKE over the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from webmail.mail.models import Message
from webmail.search.highlight import body_of, highlight
from webmail.search.query import Text

MIN_TRIGRAM = 3
# bm25 column weights: subject, people, body.
BM25 = "bm25(search_fts, 10.0, 4.0, 1.0)"


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
        # bm25 decodes every match's positions, most of a query's cost for a common
        # word; walking the FTS index newest-stored first (rowid order, which FTS5
        # serves without sorting) and stopping after `count` bounds it.
        if not any(not _short(t) and _needle(t) for t in terms):
            rows = matched.order_by("-id").values_list("id", "date")[:count]
            return [(pk, 0.0, date) for pk, date in rows]
        ranked = matched.extra(select={"rank": f"-{BM25}"},  # noqa: S610
                               order_by=["-search_fts.rowid"])
        return list(ranked.values_list("id", "rank", "date")[:count])  # type: ignore[misc]

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        needles = [_needle(t) for t in terms]
        rows = Message.objects.filter(id__in=ids).values_list("id", "search_text", "snippet")
        if not needles:
            return {pk: highlight(snippet, ()) for pk, _text, snippet in rows}
        return {pk: highlight(body_of(text) or snippet, needles) for pk, text, snippet in rows}
