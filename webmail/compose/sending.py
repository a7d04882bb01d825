"""Send a draft: check every field, build the bytes, write the outbox row."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SiteSettings
from webmail.compose import outbox
from webmail.compose.builder import build_message
from webmail.compose.drafts import outgoing_of
from webmail.compose.headers import HeaderValueError, parse_address_list
from webmail.compose.models import Draft, DraftState, Outbox


class SendError(ValueError):
    """The draft cannot be sent as it is; the message is fit to show the person."""


def send_draft(draft: Draft, *, scheduled_at: datetime | None = None,
               undo_seconds: float | None = None) -> Outbox:
    if draft.state != DraftState.OPEN:
        raise SendError(_("This message is already in the outbox."))
    limit = SiteSettings.current().max_sends_per_hour
    recent = Outbox.objects.filter(
        owner=draft.owner, created_at__gte=timezone.now() - timedelta(hours=1)
    ).count()
    if recent >= limit:
        raise SendError(
            f"You have sent {recent} messages in the last hour, the most allowed here. "
            "Try again later."
        )
    try:
        to = parse_address_list(draft.to, field="To")
        cc = parse_address_list(draft.cc, field="Cc")
        bcc = parse_address_list(draft.bcc, field="Bcc")
        if not (to or cc or bcc):
            raise SendError(_("Add at least one recipient."))
        built = build_message(outgoing_of(draft, to=to, cc=cc, bcc=bcc))
    except HeaderValueError as exc:
        raise SendError(str(exc)) from exc
    return outbox.queue_message(
        owner=draft.owner, account=draft.account, built=built, subject=draft.subject,
        identity=draft.identity, draft=draft, scheduled_at=scheduled_at,
        undo_seconds=undo_seconds, in_reply_to=draft.in_reply_to,
    )
