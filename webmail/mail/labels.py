"""Labels: a person's names and colours for IMAP keywords, and the reads around them.

Design: Message.keywords is the one record of which labels a message carries. The IMAP
sync already fills it from the server's flags (and leaves it alone while a queued
operation still has to carry a local change, see sync.imap_store), so labels set in
another client appear here and ours reach the server with no second copy to reconcile.
A through table would have needed the sync to translate keywords into rows on every
flag change. POP3 accounts and local-only folders have no server flags: their keywords
simply stay local. A Label row only names a keyword; its keyword never changes after
creation, so a rename does not strand the keyword on messages or servers.

Writes to messages go through webmail.mail.actions.add_label / remove_label.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from webmail.mail.models import Label, LabelColour, Message

MAX_LABELS = 200  # per person: a menu longer than that is no longer a menu
MAX_NAME = 100
# IMAP atom characters we allow in a keyword (RFC 3501 atom minus anything risky).
_NOT_KEYWORD = re.compile(r"[^a-z0-9_.-]+")


class LabelError(Exception):
    """The label change makes no sense as asked; the text is fit to show the person."""


def labels_for(user: User) -> QuerySet[Label]:
    return Label.objects.filter(owner=user).order_by("name", "id")


def get_label_for_user(user: object, label_id: int) -> Label:
    if not isinstance(user, User) or user.pk is None:
        raise Http404
    label = Label.objects.filter(pk=label_id, owner_id=user.pk).first()
    if label is None:
        raise Http404("No such label.")
    return label


def keyword_for(name: str) -> str:
    """An IMAP keyword spelled from the label's name ("Büro 2026" -> "buro_2026")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # 40 + "_NNN" stays inside Dovecot's default mail_max_keyword_length (50).
    keyword = _NOT_KEYWORD.sub("_", ascii_name.lower()).strip("_.-")[:40].strip("_.-")
    return keyword or "label"


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise LabelError(_("A label needs a name."))
    if len(name) > MAX_NAME:
        raise LabelError(_("That label name is too long."))
    return name


def _clean_colour(colour: str) -> str:
    if colour not in LabelColour.values:
        raise LabelError(_("Choose one of the colours offered."))
    return colour


def _check_unique(others: QuerySet[Label], name: str) -> None:
    # Compared in Python: SQLite's case-insensitive match folds ASCII letters only.
    if name.casefold() in {other.casefold() for other in others.values_list("name", flat=True)}:
        raise LabelError(_("A label named “%(name)s” exists already.") % {"name": name})


def create_label(*, owner: User, name: str, colour: str = LabelColour.BLUE) -> Label:
    name, colour = _clean_name(name), _clean_colour(colour)
    with transaction.atomic():
        existing = Label.objects.filter(owner=owner)
        if existing.count() >= MAX_LABELS:
            raise LabelError(_("You have as many labels as a person can have."))
        _check_unique(existing, name)
        taken = set(existing.values_list("keyword", flat=True))
        base = keyword = keyword_for(name)
        number = 2
        while keyword in taken:
            keyword, number = f"{base}_{number}", number + 1
        return Label.objects.create(owner=owner, name=name, colour=colour, keyword=keyword)


def update_label(*, label: Label, name: str, colour: str) -> Label:
    """Rename and recolour; the keyword stays what messages and servers know."""
    name, colour = _clean_name(name), _clean_colour(colour)
    _check_unique(Label.objects.filter(owner_id=label.owner_id).exclude(pk=label.pk), name)
    label.name, label.colour = name, colour
    label.save(update_fields=["name", "colour"])
    return label


def delete_label(*, label: Label) -> int:
    """Take the label off every message (upstream too), then forget it."""
    from webmail.mail import actions

    with transaction.atomic():
        carrying = list(messages_with_label(label).select_related("folder__account"))
        removed = actions.remove_label(messages=carrying, label=label) if carrying else 0
        label.delete()
        return removed


def messages_with_label(label: Label) -> QuerySet[Message]:
    """The owner's messages carrying the label's keyword.

    On PostgreSQL a JSON containment (`keywords @> '["kw"]'`), answered by the GIN
    index of migration mail/0008, so the label view stays an index lookup at 100,000
    messages. SQLite has no such lookup or index: there the JSON text is matched
    (keywords hold no quotes or backslashes, so '"kw"' is exact), a scan of the person's
    messages that one-machine mailboxes afford.
    """
    mine = Message.objects.filter(account__owner_id=label.owner_id)
    if connections[mine.db].vendor == "postgresql":
        return mine.filter(keywords__contains=[label.keyword])
    token = f'"{label.keyword}"'
    return (mine.annotate(keywords_text=Cast("keywords", TextField()))
            .filter(keywords_text__contains=token))


def carries(message: Message, label: Label) -> bool:
    return any(k.lower() == label.keyword.lower() for k in message.keywords or [])


def chips(message: Any, by_keyword: dict[str, Label]) -> list[Label]:
    """The labels a message carries, in label-name order (keywords with no label hide)."""
    keywords = getattr(message, "keywords", None) or []
    found = [by_keyword[k.lower()] for k in keywords if k.lower() in by_keyword]
    return sorted(found, key=lambda label: label.name.lower())
