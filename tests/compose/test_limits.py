"""Per-person limits set by the admin: sending rate and upload size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import SiteSettings, User
from tests.conftest import make_account
from webmail.compose import conf
from webmail.compose.models import Draft, Outbox
from webmail.compose.sending import SendError, send_draft
from webmail.mail import blobs


def _outbox_rows(alice: User, count: int, *, age: timedelta) -> None:
    account = make_account(alice, smtp_host="smtp.example.test")
    blob = blobs.put(b"Subject: x\r\n\r\nx\r\n")
    for n in range(count):
        row = Outbox.objects.create(
            owner=alice, account=account, message_id=f"{n}@example.test",
            envelope_from="alice@example.test", recipients=["x@example.test"], blob=blob,
            next_attempt_at=timezone.now(),
        )
        Outbox.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)


def test_sending_stops_at_the_hourly_limit(alice: User) -> None:
    site = SiteSettings.current()
    site.max_sends_per_hour = 3
    site.save()
    _outbox_rows(alice, 3, age=timedelta(minutes=5))
    account = alice.mail_accounts.get()
    draft = Draft.objects.create(owner=alice, account=account, to="bob@example.test",
                                 subject="one more", message_id="m@example.test")
    with pytest.raises(SendError, match="most allowed"):
        send_draft(draft)
    # An hour later the old ones no longer count.
    Outbox.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert send_draft(draft).pk


def test_the_upload_limit_is_the_stricter_of_setting_and_site(
    alice: User, settings: object
) -> None:
    settings.WEBMAIL_MAX_ATTACHMENT_BYTES = 10_000_000  # type: ignore[attr-defined]
    site = SiteSettings.current()
    site.max_upload_bytes = 1_000
    site.save()
    assert conf.max_attachment_bytes() == 1_000
    site.max_upload_bytes = 50_000_000
    site.save()
    assert conf.max_attachment_bytes() == 10_000_000
