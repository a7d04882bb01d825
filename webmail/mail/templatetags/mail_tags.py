"""Filters for the mail pages: dates in the person's zone, sync progress, senders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import MailAccount
from webmail.mail.models import Message

register = template.Library()

# Phrases the protocol clients use when a server refuses the login (AuthenticationFailed).
_AUTH_PHRASES = ("username or password", "authentication failed", "invalid credentials")


@register.filter
def depth_class(depth: int) -> int:
    """Indentation levels have CSS classes up to 6 (no inline styles under our CSP)."""
    return max(0, min(int(depth), 6))


@register.filter
def maildate(value: datetime | None) -> str:
    """Short list date in the active (the person's) zone: time today, day this year.

    Formats are looked up once per call of get_format (cached per language) and applied
    with dateformat directly: date_format's per-call lookups were a third of a list
    page's render time.
    """
    if value is None:
        return ""
    local = timezone.localtime(value)
    now = timezone.localtime()
    if local.date() == now.date():
        return format_date(local, get_format("TIME_FORMAT"))
    if local.year == now.year:
        return format_date(local, "M j")
    return format_date(local, get_format("SHORT_DATE_FORMAT"))


@register.filter
def isodate(value: datetime | None) -> str:
    """For <time datetime>: machine-readable, in the person's zone."""
    return timezone.localtime(value).isoformat(timespec="minutes") if value else ""


@register.filter
def titledate(value: datetime | None) -> str:
    """The full date on hover in a list row (cheap, unambiguous)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z") if value else ""


@register.filter
def fulldate(value: datetime | None) -> str:
    if value is None:
        return ""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


@register.filter
def sender(message: Message) -> str:
    return message.from_name or message.from_address or _("(unknown sender)")


@register.filter
def addresses(pairs: Any) -> str:
    """[[name, address], ...] as 'Name <address>, ...' (escaped by the template)."""
    shown = []
    for pair in pairs or []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            name, address = pair
            shown.append(f"{name} <{address}>" if name else str(address))
    return ", ".join(shown)


def _duration(seconds: float) -> str:
    delta = timedelta(seconds=int(seconds))
    if delta < timedelta(minutes=1):
        return _("less than a minute")
    if delta < timedelta(hours=1):
        minutes = round(delta.total_seconds() / 60)
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = round(delta.total_seconds() / 3600)
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


# The engines' phase names (sync.imap_session, sync.pop3), in the person's language.
_PHASES = {
    "headers": gettext_lazy("new message headers"),
    "headers_done": gettext_lazy("headers done"),
    "bodies": gettext_lazy("message bodies"),
    "fetch": gettext_lazy("downloading messages"),
    "quit": gettext_lazy("finishing"),
}


@register.filter
def sync_progress(account: MailAccount) -> dict[str, Any]:
    """What the status box shows, from account.sync_progress (written by the engines)."""
    raw = account.sync_progress if isinstance(account.sync_progress, dict) else {}
    phase = str(raw.get("phase", ""))
    out: dict[str, Any] = {"phase": str(_PHASES.get(phase, phase)), "folder": raw.get("folder", "")}
    try:
        done, total = int(raw.get("done") or 0), int(raw.get("total") or 0)
        rate = float(raw.get("rate") or 0)
    except (TypeError, ValueError):
        done, total, rate = 0, 0, 0.0
    if total > 0:
        out.update(done=min(done, total), total=total, percent=min(100, done * 100 // total))
        if rate > 0 and done < total:
            out["time_left"] = _duration((total - done) / rate)
    quota = raw.get("quota")
    if isinstance(quota, dict):
        try:
            used, limit = int(quota.get("used") or 0), int(quota.get("limit") or 0)
        except (TypeError, ValueError):
            used, limit = 0, 0
        if limit > 0:
            out.update(quota_used=used, quota_total=limit, quota_low=int(limit * 0.8),
                       quota_high=int(limit * 0.95))
    error = (account.last_error or "").lower()
    out["auth_error"] = any(phrase in error for phrase in _AUTH_PHRASES)
    return out
