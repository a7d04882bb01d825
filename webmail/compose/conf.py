"""Compose settings, read at call time so tests can override them.

Each has a default here; webmail/settings.py may set them from the environment.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # Seconds a sent message waits in the outbox so the person can take it back.
    "WEBMAIL_UNDO_SECONDS": 10,
    "WEBMAIL_MAX_ATTACHMENT_BYTES": 25 * 1024 * 1024,
    # Temporary failures: first retry after BASE seconds, doubling up to MAX, for up to
    # GIVE_UP seconds after the message was queued (a day, like an MTA's queue).
    "WEBMAIL_SEND_RETRY_BASE_SECONDS": 60,
    "WEBMAIL_SEND_RETRY_MAX_SECONDS": 60 * 60,
    "WEBMAIL_SEND_GIVE_UP_SECONDS": 24 * 60 * 60,
    # A retry or scheduled send this close is queued with a countdown; further ones are
    # left to beat's dispatch_due (long ETAs are redelivered in a loop by Redis).
    "WEBMAIL_SEND_COUNTDOWN_MAX_SECONDS": 5 * 60,
    # A row claimed for sending longer ago than this belongs to a dead worker.
    "WEBMAIL_SEND_STALE_SECONDS": 10 * 60,
    "WEBMAIL_SMTP_TIMEOUT": 60,
    # Autosaves within this many seconds share one push of the draft to IMAP Drafts.
    "WEBMAIL_DRAFT_PUSH_DELAY_SECONDS": 10,
    # A sent copy still waiting this long after the send lost its task (a restarted
    # broker, a killed worker): beat's dispatch_due queues it again. The same grace
    # applies to a draft push overdue by this much and to a Drafts copy still to remove.
    "WEBMAIL_SENT_COPY_GRACE_SECONDS": 60,
}


def get(name: str) -> float:
    return float(getattr(settings, name, DEFAULTS[name]))


def max_attachment_bytes() -> int:
    """The stricter of the operator's setting and the admin's per-person upload limit."""
    from accounts.models import SiteSettings

    site_limit = SiteSettings.current().max_upload_bytes or float("inf")
    return int(min(get("WEBMAIL_MAX_ATTACHMENT_BYTES"), site_limit))
