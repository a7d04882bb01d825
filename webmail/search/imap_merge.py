"""Ask the IMAP server about messages whose bodies we do not hold yet (optional).

During a first sync the list has headers for everything but bodies for only part, so
our index cannot see body words of the rest. For IMAP accounts this translates the
query to IMAP SEARCH, asks each folder that still has headers-only messages, and
returns the ids of the local rows the server matched. Off unless
settings.WEBMAIL_SEARCH_ASK_SERVER is true: it is the one path where a page waits on a
mail server, so each call has a short timeout and every failure is only reported.
"""

from __future__ import annotations

from datetime import date
from typing import NoReturn

from django.conf import settings

from accounts.models import MailAccount, Protocol, User
from webmail.mail.models import BodyState, Folder, Message
from webmail.protocols.errors import ProtocolError
from webmail.protocols.imap import ImapClient
from webmail.search.filters import compile_node
from webmail.search.query import And, DateBound, Field, Flag, Node, Not, Or, SizeBound, Text
from webmail.sync.connect import imap_endpoint_for

SERVER_TIMEOUT_SECONDS = 10.0
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_IMAP_FIELDS = {"from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT"}
_IMAP_FLAGS = {"unread": "UNSEEN", "read": "SEEN", "starred": "FLAGGED"}


def enabled() -> bool:
    return bool(getattr(settings, "WEBMAIL_SEARCH_ASK_SERVER", False))


def _astring(value: str) -> str | None:
    # ASCII only: non-ASCII needs CHARSET and literals, which not every server takes.
    if not value.isascii() or any(c in value for c in "\r\n"):
        return None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_date(day: date) -> str:
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def criterion(node: Node) -> str | None:
    """IMAP SEARCH for one term, or None if IMAP cannot say it."""
    if isinstance(node, Text):
        quoted = _astring(node.value)
        return f"TEXT {quoted}" if quoted else None
    if isinstance(node, Field) and node.name in _IMAP_FIELDS:
        quoted = _astring(node.value)
        return f"{_IMAP_FIELDS[node.name]} {quoted}" if quoted else None
    if isinstance(node, Flag) and node.name in _IMAP_FLAGS:
        return _IMAP_FLAGS[node.name]
    if isinstance(node, DateBound):
        return f"{'BEFORE' if node.kind == 'before' else 'SINCE'} {_imap_date(node.day)}"
    if isinstance(node, SizeBound):
        return f"{'LARGER' if node.kind == 'larger' else 'SMALLER'} {node.size}"
    if isinstance(node, Not):
        inner = criterion(node.term)
        return f"NOT ({inner})" if inner else None
    if isinstance(node, Or):
        parts = [criterion(t) for t in node.terms]
        if any(p is None for p in parts):
            return None
        out = f"({parts[-1]})"
        for part in reversed(parts[:-1]):
            out = f"OR ({part}) {out}"
        return out
    if isinstance(node, And):
        parts = [criterion(t) for t in node.terms]
        return None if any(p is None for p in parts) else " ".join(f"({p})" for p in parts)
    return None


def split_query(query: And) -> tuple[str | None, And]:
    """(IMAP criteria for the terms IMAP can say, the terms left to filter locally).

    Only top-level terms move to the server; a free-text term IMAP cannot carry means
    no server search at all, since its answers would then be too broad.
    """
    sent: list[str] = []
    local: list[Node] = []
    for term in query.terms:
        imap = criterion(term)
        if imap is not None:
            sent.append(f"({imap})")
        elif isinstance(term, Text | Not | Or | And):
            return None, query
        else:
            local.append(term)
    return (" ".join(sent) if sent else None), And(tuple(local))


def server_matches(user: User, query: And, *, account_id: int | None = None,
                   exclude: set[int] | None = None) -> tuple[list[int], list[str]]:
    """Ids of the person's headers-only IMAP messages the servers match, and errors."""
    criteria, local = split_query(query)
    if criteria is None:
        return [], []
    accounts = MailAccount.objects.filter(owner=user, protocol=Protocol.IMAP)
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    found: list[int] = []
    errors: list[str] = []
    for account in accounts:
        folders = list(Folder.objects.filter(
            account=account, messages__body_state=BodyState.HEADERS).distinct())
        if not folders:
            continue
        try:
            found.extend(_ask(account, folders, criteria, local))
        except ProtocolError as exc:
            errors.append(f"{account.email}: {exc}")
    return [pk for pk in found if pk not in (exclude or set())], errors


def _ask(account: MailAccount, folders: list[Folder], criteria: str, local: And) -> list[int]:
    found: list[int] = []
    endpoint = imap_endpoint_for(account, timeout=SERVER_TIMEOUT_SECONDS)
    with ImapClient.connect(endpoint) as client:
        for folder in folders:
            info = client.select(folder.remote_name or folder.name, readonly=True)
            uids = client.search_uids(criteria)
            if not uids or info.uidvalidity != folder.uidvalidity:
                continue
            rows = Message.objects.filter(
                folder=folder, uidvalidity=folder.uidvalidity, uid__in=uids,
                body_state=BodyState.HEADERS,
            ).filter(compile_node(local, lambda _term: _never()))
            found.extend(rows.order_by("-date").values_list("id", flat=True))
    return found


def _never() -> NoReturn:
    raise AssertionError("split_query keeps free text on the server")
