"""search_messages: the one entry point the views (and anything else) use."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from django.db.models import F, QuerySet
from django.utils.safestring import SafeString

from accounts.models import MailAccount, User
from webmail.mail.models import BodyState, FolderRole, Message
from webmail.search.backends import get_backend
from webmail.search.filters import compile_node, mentions_folder
from webmail.search.query import And, Field, Text, all_text, parse

Order = Literal["relevance", "date"]
MAX_LIMIT = 200
# Relevance ranks the newest this-many matches (after every operator's filter): ranking
# reads each candidate's positions, so a word in 20% of 100,000 messages would otherwise
# cost 20,000 reads per keystroke. Order by date reaches every match. 500 rather than
# 1,000: ranking (and a phrase's adjacency check) reads each candidate's vector, about
# a third of a PostgreSQL query's time at 1,000 (bench/search.py, EXPLAIN ANALYZE).
RANK_CANDIDATES = 500


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    rank: float
    snippet: SafeString
    subject: str
    from_name: str
    from_address: str
    date: datetime | None
    folder_name: str
    account_id: int
    is_seen: bool
    is_flagged: bool
    has_attachments: bool
    body_pending: bool
    on_server: bool = False  # found by the IMAP server's SEARCH, not by our index


@dataclass(frozen=True)
class SearchResults:
    query: And
    hits: list[SearchHit]
    # The person's messages whose bodies are not stored yet: results may be incomplete.
    pending_bodies: int
    next_cursor: str | None = None
    server_errors: list[str] = field(default_factory=list)


def user_messages(user: User, account_id: int | None = None) -> QuerySet[Message]:
    """The only messages a search may see: those of the person's own accounts."""
    messages = Message.objects.filter(account__owner=user)
    if account_id is not None:
        messages = messages.filter(account_id=account_id)
    return messages


def search_messages(user: User, query: str, *, account_id: int | None = None,
                    order: Order = "relevance", limit: int = 50,
                    after_cursor: str | None = None, ask_server: bool = False) -> SearchResults:
    """Messages of `user` matching a Gmail-style query (raises QueryError if unreadable).

    Ranked by relevance with newest first among equals, or newest first. The cursor is
    an opaque offset string from the previous page's `next_cursor`. `ask_server` adds,
    on the first page, headers-only IMAP messages the server's SEARCH matches
    (imap_merge; the caller decides whether a page may wait on a server).
    """
    ast = parse(query)
    mine = user_messages(user, account_id)
    pending = mine.filter(body_state=BodyState.HEADERS).count()
    if not ast.terms:
        return SearchResults(query=ast, hits=[], pending_bodies=pending)

    backend = get_backend()
    messages = mine
    if not mentions_folder(ast):
        # As in Gmail: trash and junk only when the person asks for a folder.
        messages = messages.exclude(folder__role__in=[FolderRole.TRASH, FolderRole.JUNK])
    main_terms = [t for t in ast.terms if isinstance(t, Text)]
    others = And(tuple(t for t in ast.terms if not isinstance(t, Text)))
    if others.terms:
        messages = messages.filter(compile_node(others, backend.text_q))
    if main_terms:
        people = [t.value for t in others.terms
                  if isinstance(t, Field) and t.name in ("from", "to", "cc")]
        messages = backend.match(messages, main_terms, people=people)
    offset = _offset(after_cursor)
    limit = max(1, min(limit, MAX_LIMIT))
    if order == "relevance" and main_terms:
        accounts = None if others.terms else _account_ids(user, account_id)
        rows = _by_relevance(backend.newest_ranked(messages, main_terms, RANK_CANDIDATES,
                                                   account_ids=accounts))
        rows = rows[offset:offset + limit + 1]
    elif main_terms:
        # Through the backend, which knows how its index finds the newest matches.
        accounts = None if others.terms else _account_ids(user, account_id)
        ids = backend.newest_ids(messages, main_terms, offset + limit + 1,
                                 account_ids=accounts)
        rows = [(pk, 0.0) for pk in ids[offset:]]
    else:
        newest = messages.order_by(F("date").desc(nulls_last=True), F("id").desc())
        rows = [(pk, 0.0) for pk in newest.values_list("id", flat=True)[
            offset:offset + limit + 1]]
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [pk for pk, _rank in rows]
    snippets = backend.snippets(ids, all_text(ast)) if ids else {}
    hits = _hits(rows, snippets)
    errors: list[str] = []
    if ask_server and pending and offset == 0:
        from webmail.search.imap_merge import server_matches

        extra, errors = server_matches(user, ast, account_id=account_id, exclude=set(ids))
        hits += [dataclasses.replace(hit, on_server=True, snippet=SafeString(""))
                 for hit in _hits([(pk, 0.0) for pk in extra[:limit]], {})]
    return SearchResults(query=ast, hits=hits, pending_bodies=pending,
                         next_cursor=f"o{offset + limit}" if more else None,
                         server_errors=errors)


def _account_ids(user: User, account_id: int | None) -> list[int]:
    accounts = MailAccount.objects.filter(owner=user)
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    return list(accounts.values_list("id", flat=True))


def _by_relevance(rows: list[tuple[int, float, datetime | None]]) -> list[tuple[int, float]]:
    """Best rank first; among equal ranks the newest, then the highest id."""
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(rows, key=lambda r: (r[1] or 0.0, r[2] or oldest, r[0]), reverse=True)
    return [(pk, float(rank or 0.0)) for pk, rank, _date in ordered]


def _offset(cursor: str | None) -> int:
    if cursor and cursor.startswith("o") and cursor[1:].isdigit():
        return int(cursor[1:])
    return 0


def _hits(rows: list[tuple[int, float]], snippets: dict[int, SafeString]) -> list[SearchHit]:
    details = {
        m.pk: m for m in Message.objects.filter(id__in=[pk for pk, _ in rows])
        .select_related("folder").only(
            "id", "subject", "from_name", "from_address", "date", "account_id", "is_seen",
            "is_flagged", "has_attachments", "body_state", "folder__name")
    }
    hits: list[SearchHit] = []
    for pk, rank in rows:
        m = details[pk]
        hits.append(SearchHit(
            message_id=pk, rank=float(rank or 0.0), snippet=snippets.get(pk, SafeString("")),
            subject=m.subject, from_name=m.from_name, from_address=m.from_address,
            date=m.date, folder_name=m.folder.name, account_id=m.account_id,
            is_seen=m.is_seen, is_flagged=m.is_flagged, has_attachments=m.has_attachments,
            body_pending=m.body_state == BodyState.HEADERS,
        ))
    return hits
