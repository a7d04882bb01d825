"""Contacts harvested from mail sent and received, ranked by use, for autocomplete."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from webmail.compose.models import Contact

MAX_NAME = 200
MAX_ADDRESS = 320
SUGGESTIONS = 10


def harvest_contacts(*, owner: User | int, people: Iterable[tuple[str, str]],
                     at: datetime | None = None, weight: int = 1) -> int:
    """Count one use of each (name, address); new addresses become contacts.

    The sync may call this for received mail with weight 0 (known, not ranked up), the
    relay calls it for recipients with weight 1. Returns how many were touched.
    """
    owner_id = owner if isinstance(owner, int) else owner.pk
    when = at or timezone.now()
    unique: dict[str, str] = {}
    for name, address in people:
        key = address.strip().lower()[:MAX_ADDRESS]
        if "@" in key and key not in unique:
            unique[key] = (name or "").strip()[:MAX_NAME]
    for address, name in unique.items():
        updated = Contact.objects.filter(owner_id=owner_id, address=address).update(
            use_count=F("use_count") + weight, last_used_at=when)
        if not updated:
            try:
                with transaction.atomic():
                    Contact.objects.create(owner_id=owner_id, address=address, name=name,
                                           use_count=weight, last_used_at=when)
            except IntegrityError:  # created meanwhile by another worker
                Contact.objects.filter(owner_id=owner_id, address=address).update(
                    use_count=F("use_count") + weight, last_used_at=when)
        elif name:
            Contact.objects.filter(owner_id=owner_id, address=address, name="").update(
                name=name)
    return len(unique)


def suggest(owner: User, query: str, *, limit: int = SUGGESTIONS) -> list[Contact]:
    """Contacts whose address or name starts with (or contains) the query, best first."""
    text = query.strip()[:100]
    if not text:
        return []
    rows = Contact.objects.filter(owner=owner).filter(
        Q(address__icontains=text) | Q(name__icontains=text))
    return list(rows.order_by("-saved", "-use_count", "-last_used_at", "address")[:limit])
