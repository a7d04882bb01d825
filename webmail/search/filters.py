"""Structured operators (from:, is:, in:, before: …) as ORM filters on Message.

Free-text terms nested under OR or a minus are handed to the backend's `text_q`, so any
boolean mix of operators and words compiles to one WHERE clause.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from webmail.mail.models import FolderRole
from webmail.search.query import And, DateBound, Field, Flag, Node, Not, Or, SizeBound, Text

TextQ = Callable[[Text], Q]
_ROLES = frozenset(role.value for role in FolderRole if role.value)


def compile_node(node: Node, text_q: TextQ) -> Q:
    if isinstance(node, Text):
        return text_q(node)
    if isinstance(node, Not):
        return ~compile_node(node.term, text_q)
    if isinstance(node, Or):
        combined = Q()
        for i, term in enumerate(node.terms):
            part = compile_node(term, text_q)
            combined = part if i == 0 else combined | part
        return combined
    if isinstance(node, And):
        combined = Q()
        for term in node.terms:
            combined &= compile_node(term, text_q)
        return combined
    if isinstance(node, Flag):
        return _flag(node.name)
    if isinstance(node, DateBound):
        start = timezone.make_aware(datetime.combine(node.day, time.min))
        return Q(date__lt=start) if node.kind == "before" else Q(date__gte=start)
    if isinstance(node, SizeBound):
        return Q(size__gt=node.size) if node.kind == "larger" else Q(size__lt=node.size)
    return _field(node)


def _flag(name: str) -> Q:
    if name == "unread":
        return Q(is_seen=False)
    if name == "read":
        return Q(is_seen=True)
    if name == "starred":
        return Q(is_flagged=True)
    return Q(has_attachments=True)


def _field(node: Field) -> Q:
    value = node.value
    if node.name == "from":
        return Q(from_name__icontains=value) | Q(from_address__icontains=value)
    if node.name in ("to", "cc"):
        return Q(_json_pairs_contain(node.name, value))
    if node.name == "subject":
        return Q(subject__icontains=value)
    if node.name == "filename":
        return Q(_json_strings_contain("attachment_names", value))
    if node.name == "in":
        lowered = value.lower()
        by_name = Q(folder__name__iexact=value) | Q(folder__name__iendswith="/" + value)
        return Q(folder__role=lowered) | by_name if lowered in _ROLES else by_name
    # account: the address, its display name, or its id.
    by_text = Q(account__email__iexact=value) | Q(account__display_name__iexact=value)
    return by_text | Q(account_id=int(value)) if value.isdigit() else by_text


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json_pairs_contain(column: str, value: str) -> RawSQL:
    """`to`/`cc` hold [[name, address], ...]; match either part, case-insensitively.

    Through the JSON functions rather than Django's JSONField icontains, which on SQLite
    compares the \\u-escaped text and so misses every non-ASCII name.
    """
    pattern = _like(value)
    if connection.vendor == "postgresql":
        sql = ('EXISTS (SELECT 1 FROM jsonb_array_elements('  # noqa: S608  (our column names)
               'CASE WHEN jsonb_typeof('
               f'mail_message."{column}") = \'array\' THEN mail_message."{column}" ELSE '
               f"'[]'::jsonb END) e WHERE e->>0 ILIKE %s OR e->>1 ILIKE %s)")
    else:
        sql = (f'EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid('  # noqa: S608
               f'mail_message."{column}")'
               f' THEN mail_message."{column}" ELSE \'[]\' END) e WHERE e.value->>0 LIKE %s '
               f"ESCAPE '\\' OR e.value->>1 LIKE %s ESCAPE '\\')")
    return RawSQL(sql, (pattern, pattern), output_field=BooleanField())  # noqa: S611


def _json_strings_contain(column: str, value: str) -> RawSQL:
    pattern = _like(value)
    if connection.vendor == "postgresql":
        sql = (f"EXISTS (SELECT 1 FROM jsonb_array_elements_text("  # noqa: S608
               f"CASE WHEN jsonb_typeof("
               f"mail_message.{column}) = 'array' THEN mail_message.{column} ELSE "
               f"'[]'::jsonb END) e WHERE e ILIKE %s)")
    else:
        sql = (f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid("  # noqa: S608
               f"mail_message.{column})"
               f" THEN mail_message.{column} ELSE '[]' END) e WHERE e.value LIKE %s "
               f"ESCAPE '\\')")
    return RawSQL(sql, (pattern,), output_field=BooleanField())  # noqa: S611


def mentions_folder(node: Node) -> bool:
    """Whether the query asks for a folder (then trash and junk are searched too);
    `-in:sent` asks for none."""
    if isinstance(node, Field):
        return node.name == "in"
    if isinstance(node, Or | And):
        return any(mentions_folder(term) for term in node.terms)
    return False
