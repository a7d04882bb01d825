"""The address book: contacts a person saved, beside those harvested from their mail."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from webmail.compose.headers import HeaderValueError, clean_address, clean_name
from webmail.compose.models import Contact

PAGE = 200


def contacts_for(owner: User, query: str = "") -> QuerySet[Contact]:
    rows = Contact.objects.filter(owner=owner)
    if query:
        rows = rows.filter(Q(address__icontains=query) | Q(name__icontains=query))
    return rows.order_by("-saved", "-use_count", "address")[:PAGE]


def get_contact_for_user(owner: User, contact_id: int) -> Contact:
    return get_object_or_404(Contact, pk=contact_id, owner=owner)


def save_contact(*, owner: User, address: str, name: str = "") -> Contact:
    """Add or update a contact; raises HeaderValueError with a message for the person."""
    address = clean_address(address.strip()).lower()
    name = clean_name(name.strip()) if name.strip() else ""
    contact, _ = Contact.objects.update_or_create(
        owner=owner, address=address, defaults={"name": name, "saved": True}
    )
    return contact


def delete_contact(contact: Contact) -> None:
    contact.delete()


__all__ = ["HeaderValueError", "contacts_for", "delete_contact", "get_contact_for_user",
           "save_contact"]
