"""Label chips and preference classes for templates, one query per request each."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from accounts.models import User
from webmail.mail import labels, preferences
from webmail.mail.models import Label

register = template.Library()
_CACHE = "_mail_labels_by_keyword"


def _by_keyword(context: template.Context) -> dict[str, Label]:
    request: HttpRequest | None = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not isinstance(user, User):
        return {}
    cached: dict[str, Label] | None = getattr(request, _CACHE, None)
    if cached is None:
        cached = {label.keyword.lower(): label for label in labels.labels_for(user)}
        setattr(request, _CACHE, cached)
    return cached


@register.simple_tag(takes_context=True)
def label_chips(context: template.Context, message: Any) -> list[Label]:
    return labels.chips(message, _by_keyword(context))


@register.simple_tag(takes_context=True)
def person_labels(context: template.Context) -> list[Label]:
    return sorted(_by_keyword(context).values(), key=lambda label: label.name.lower())


@register.simple_tag(takes_context=True)
def preference_classes(context: template.Context) -> str:
    """theme-… density-… classes for <body> (empty for visitors)."""
    request: HttpRequest | None = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return ""
    prefs = preferences.for_request(request)  # type: ignore[arg-type]
    return f"theme-{prefs.theme} density-{prefs.density}"


@register.simple_tag(takes_context=True)
def preference_theme(context: template.Context) -> str:
    """"light" or "dark" when the person chose one in Settings, else "" (follow system)."""
    request: HttpRequest | None = context.get("request")
    if not isinstance(getattr(request, "user", None), User):
        return ""
    theme = preferences.for_request(request).theme  # type: ignore[arg-type]
    return theme if theme in ("light", "dark") else ""


@register.simple_tag(takes_context=True)
def message_row(context: template.Context, message: Any, oob: bool = False) -> str:
    """One list row (webmail/mail/row_html.py), with the page's row URLs and labels."""
    from webmail.mail.row_html import render_row, row_words
    from webmail.mail.views_common import row_urls

    urls = context.get("row_urls") or row_urls()
    words = context.render_context.get("row_words")
    if words is None:  # once per page and language
        words = context.render_context["row_words"] = row_words()
    return render_row(message, urls=urls, chips=labels.chips(message, _by_keyword(context)),
                      words=words, threads=bool(context.get("threads")), oob=oob)
