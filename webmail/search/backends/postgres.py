"""PostgreSQL: tsvector per message (search_search_document, GIN), ts_rank.

Each word is looked up stemmed ('english', for subject and body) and as written
('simple', for names and addresses, which the index keeps unstemmed). plainto/phraseto
tsquery parse the person's words, so no input is a tsquery syntax error. CJK runs are
matched as phrases of bigrams, as schema.py indexes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.postgres.search import (
    SearchQuery,
    SearchQueryCombinable,
    SearchRank,
)
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from webmail.mail.models import FolderRole, Message
from webmail.search.backends import pg_recent
from webmail.search.highlight import body_of, highlight
from webmail.search.models import SearchDocument
from webmail.search.query import CJK_RUN, Text, words_and_cjk_runs

# DEFAULT weights are {D, C, B, A} = {0.1, 0.2, 0.4, 1.0}: subject over people over body.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _cjk_query(run: str) -> SearchQuery:
    if len(run) == 1:
        raw = _quote(run) + ":*"  # one character: any bigram starting with it
    else:
        raw = " <-> ".join(_quote(run[i:i + 2]) for i in range(len(run) - 1))
    return SearchQuery(raw, search_type="raw", config="simple")


class _PairLookup(SearchQuery):
    """search_phrase_lookup(config, phrase) (schema.py): the AND of the phrase's word
    pairs, which the GIN index answers exactly, without reading a vector."""

    SEARCH_TYPES = {"pairs": "search_phrase_lookup"}

    def __init__(self, phrase: str, config: str) -> None:
        super().__init__(phrase, config=config, search_type="pairs")


def tsquery(term: Text, *, lookup: bool = False) -> SearchQueryCombinable:
    """The term as a tsquery; with `lookup`, a phrase is its index lookup instead (its
    word pairs: a superset of its matches, found without reading vectors)."""
    parts: list[SearchQueryCombinable] = []
    for i, piece in enumerate(CJK_RUN.split(term.value)):
        if not piece.strip():
            continue
        if i % 2:
            parts.append(_cjk_query(piece))
        elif term.prefix:
            lexemes = piece.split()
            raw = " & ".join(_quote(w) + ":*" for w in lexemes)
            parts.append(SearchQuery(raw, search_type="raw", config="simple"))
        elif lookup and term.phrase:
            parts.append(_PairLookup(piece, "english") | _PairLookup(piece, "simple"))
        else:
            kind = "phrase" if term.phrase else "plain"
            parts.append(SearchQuery(piece, search_type=kind, config="english")
                         | SearchQuery(piece, search_type=kind, config="simple"))
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def _relaxable(term: Text) -> bool:
    """Whether the term's words can be looked up without their order (not CJK, whose
    bigram phrases are their own lookups, and not a prefix)."""
    return not term.prefix and not CJK_RUN.search(term.value)


def combined_tsquery(terms: Sequence[Text]) -> SearchQueryCombinable:
    query = tsquery(terms[0])
    for term in terms[1:]:
        query = query & tsquery(term)
    return query


def lookup_tsquery(terms: Sequence[Text]) -> SearchQueryCombinable:
    """Found on the GIN index without a recheck: words, and phrases by their pairs."""
    query = tsquery(terms[0], lookup=True)
    for term in terms[1:]:
        query = query & tsquery(term, lookup=True)
    return query


def filter_tsquery(terms: Sequence[Text]) -> SearchQueryCombinable:
    """Exactly the terms' matches; a phrase also carries its pairs, so the GIN index
    narrows to the messages holding them before the phrase is checked on vectors."""
    query = combined_tsquery(terms)
    if any(t.phrase and _relaxable(t) for t in terms):
        query = query & lookup_tsquery(terms)
    return query


def _id_array(ids: Sequence[int]) -> RawSQL:
    """`IN (SELECT unnest(%s))` with the ids as one array parameter. As an IN list, the
    500 candidates of a ranked search are 500 parameters, which psycopg's client-side
    binding converts one by one: ~3 ms a query (cProfile of bench/search.py)."""
    return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])


class PostgresBackend:
    def text_q(self, term: Text) -> Q:
        return Q(id__in=SearchDocument.objects.filter(vector=filter_tsquery([term]))
                 .values("message_id"))

    def match(self, messages: QuerySet[Message], terms: Sequence[Text], *,
              people: Sequence[str] = ()) -> QuerySet[Message]:
        return messages.filter(search_document__vector=filter_tsquery(terms))

    def newest_ids(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                   *, account_ids: list[int] | None = None) -> list[int]:
        with transaction.atomic(), connection.cursor() as cursor:
            # For a word in most messages the planner prefers a sequential scan that
            # reads (and decompresses) every tsvector to test @@; the GIN bitmap finds
            # the same rows without reading one vector. Measured: 400 ms against 40 ms.
            cursor.execute("SET LOCAL enable_seqscan = off")
            if account_ids is not None:
                return self._newest_of_accounts(matched, terms, count, account_ids)
            return list(matched.order_by(F("date").desc(nulls_last=True), "-id")
                        .values_list("id", flat=True)[:count])

    def newest_ranked(self, matched: QuerySet[Message], terms: Sequence[Text], count: int,
                      *, account_ids: list[int] | None = None,
                      ) -> list[tuple[int, float, datetime | None]]:
        # Two steps: the ids of the newest `count` matches, then ts_rank on those alone
        # (ts_rank reads each candidate's whole tsvector, and a ranking query that
        # also repeats every filter made the planner run them twice).
        ids = self.newest_ids(matched, terms, count, account_ids=account_ids)
        if not ids:
            return []
        rank = SearchRank(F("vector"), combined_tsquery(terms), weights=RANK_WEIGHTS)
        return list(SearchDocument.objects.filter(message_id__in=_id_array(ids))
                    .annotate(rank=rank)
                    .values_list("message_id", "rank", "date"))

    def _newest_of_accounts(self, matched: QuerySet[Message], terms: Sequence[Text],
                            count: int, account_ids: list[int]) -> list[int]:
        """The newest matches from search_search_document alone (GIN bitmap, then
        date; no vector read, no join to mail_message), less trash and junk. A term
        in many messages is looked for among the newest rows first (pg_recent)."""
        query = filter_tsquery(terms)
        found = pg_recent.newest_matches(query, count, account_ids)
        if found is not None:
            return found
        if any(t.phrase for t in terms) and all(_relaxable(t) for t in terms):
            return self._newest_phrase_matches(terms, count, account_ids)
        newest = (SearchDocument.objects
                  .filter(account_id__in=account_ids, vector=query)
                  .order_by(F("date").desc(nulls_last=True), F("message_id").desc())
                  .values_list("message_id", flat=True))
        # `matched` is those accounts less trash and junk (the caller's contract): check
        # the folders of the newest rows rather than join every match, and look further
        # when trash or junk took some of the places.
        limit = count
        while True:
            ids = list(newest[:limit])
            dropped = set(Message.objects.filter(
                id__in=_id_array(ids), folder__role__in=[FolderRole.TRASH, FolderRole.JUNK])
                .values_list("id", flat=True)) if ids else set()
            kept = [pk for pk in ids if pk not in dropped]
            if len(kept) >= count or len(ids) < limit:
                return kept[:count]
            limit *= 4

    def _newest_phrase_matches(self, terms: Sequence[Text], count: int,
                               account_ids: list[int]) -> list[int]:
        """A phrase's word pairs are found on the GIN index without reading a vector
        (an AND of lexemes needs no recheck); only the newest of those are read to
        check the phrase, until `count` pass. `<->` on the index would make PostgreSQL
        read the vector of every message holding the words first, and an AND of the
        words alone (before the pairs) the vectors of every message holding both."""
        hidden = Message.objects.filter(id=OuterRef("message_id"),
                                        folder__role__in=[FolderRole.TRASH, FolderRole.JUNK])
        candidates = (SearchDocument.objects
                      .filter(account_id__in=account_ids, vector=lookup_tsquery(terms))
                      .filter(~Exists(hidden))
                      .order_by(F("date").desc(nulls_last=True), F("message_id").desc())
                      .values("message_id", "date"))
        inner_sql, inner_params = candidates.query.sql_with_params()
        check = SearchDocument.objects.filter(vector=combined_tsquery(terms))
        where = check.query.where
        compiler = check.query.get_compiler(connection=connection)
        check_sql, check_params = where.as_sql(compiler, connection)
        # The date-ordered candidates come out of a subquery that OFFSET 0 fences, and
        # each is tested for the phrase by a scalar subquery on its own row, in that
        # order, until the limit is reached. Joined to the table instead, PostgreSQL
        # estimated few candidates and tested the phrase on the GIN index over every
        # message holding the words (49,000 vectors read for 500 matches). The
        # candidates carry no vector: sorting 70,000 of them with their vectors (a
        # common pair of bench/search.py) spilled to disk; without, the query takes
        # 65 instead of 82 ms. `check_sql` names the table, which the test's FROM is.
        # Trash and junk are left out before, so they do not take the places of matches.
        sql = (f"SELECT candidates.message_id FROM ({inner_sql} OFFSET 0) AS candidates "  # noqa: S608
               f"WHERE (SELECT {check_sql} FROM search_search_document WHERE "
               f"search_search_document.message_id = candidates.message_id) "
               f"ORDER BY candidates.date DESC NULLS LAST, candidates.message_id DESC "
               f"LIMIT %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*inner_params, *check_params, count])
            return [row[0] for row in cursor.fetchall()]

    def snippets(self, ids: Sequence[int], terms: Sequence[Text]) -> dict[int, SafeString]:
        """A window around the first match, as on SQLite (highlight.highlight), with the
        words' stems marked where a word starts. ts_headline did this in the database:
        it parses each hit's whole text again, 22-29 ms of a one-word search's ~80
        (bench/search.py, 50 hits of ~3.6 KB); this is ~2 ms."""
        rows = Message.objects.filter(id__in=ids).values_list("id", "search_text", "snippet")
        if not terms:
            return {pk: highlight(snippet, ()) for pk, _text, snippet in rows}
        words, cjk = words_and_cjk_runs(terms)
        stems = _stems(" ".join(words)) if words else []
        return {pk: highlight(body_of(text) or snippet, cjk, word_starts=[*words, *stems])
                for pk, text, snippet in rows}


def _stems(text: str) -> list[str]:
    """The lexemes PostgreSQL's English stemmer makes of the words ("meetings" ->
    "meet"), which the index matched in every form of the word."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector('english', %s))", [text])
        row = cursor.fetchone()
    return list(row[0] or []) if row else []
