"""A message's sender verification, computed once and kept (SenderCheck).

DKIM keys come from DNS, which can take seconds: the reading pane shows the stored
result, or a placeholder that fetches it afterwards (views_sender), so no page waits
on a lookup. The resolver is settings.DKIM_DNS_LOOKUP (a dotted path to a function
with dkimpy's contract), dkimpy's own when unset; tests name a fake one there.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from webmail.mail import blobs
from webmail.mail.authenticity import (
    Authenticity,
    DnsLookup,
    authserv_id_for,
    from_json,
    to_json,
    verify_message,
)
from webmail.mail.models import Message, SenderCheck

# Per DNS lookup when a person is waiting for the fragment (the default is 5 s).
PAGE_DNS_TIMEOUT_SECONDS = 2


def dns_lookup() -> DnsLookup | None:
    path = getattr(settings, "DKIM_DNS_LOOKUP", "")
    return import_string(path) if path else None  # type: ignore[no-any-return]


def stored_check(message: Message) -> Authenticity | None:
    """The kept result if it is still current for this message and account, else None.

    Reads `message.sender_check`: select_related it to spare a query."""
    try:
        row = message.sender_check
    except SenderCheck.DoesNotExist:
        return None
    if row.blob_id != (message.blob_id or "") or \
            row.authserv_id != authserv_id_for(message.account):
        return None
    return from_json(row.result)


def check_sender(message: Message) -> Authenticity | None:
    """Verify the sender now (DNS lookups, short timeouts) and keep the result.

    None when the message's bytes are not stored (yet): there is nothing to verify."""
    if not message.blob_id:
        return None
    try:
        raw = blobs.get(message.blob_id)
    except blobs.BlobMissing:
        return None
    authserv_id = authserv_id_for(message.account)
    result = verify_message(raw, authserv_id=authserv_id, dns_lookup=dns_lookup(),
                            dns_timeout=PAGE_DNS_TIMEOUT_SECONDS)
    SenderCheck.objects.update_or_create(
        message=message,
        defaults={"blob_id": message.blob_id, "authserv_id": authserv_id,
                  "result": to_json(result)},
    )
    return result
