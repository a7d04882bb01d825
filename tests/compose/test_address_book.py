from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.models import User
from webmail.compose.contacts import suggest
from webmail.compose.models import Contact


def test_a_saved_contact_is_listed_and_suggested(alice: User, alice_client: Client) -> None:
    response = alice_client.post(reverse("address_book"),
                                 {"name": "Zoë Example", "address": "Zoe@Example.test"})
    assert response.status_code == 302
    page = alice_client.get(reverse("address_book")).content.decode()
    assert "zoe@example.test" in page and "Zoë Example" in page
    assert [c.address for c in suggest(alice, "zo")] == ["zoe@example.test"]


def test_a_bad_address_or_an_injected_name_is_refused(alice: User, alice_client: Client) -> None:
    response = alice_client.post(reverse("address_book"),
                                 {"name": "Eve\r\nBcc: x@evil.test", "address": "eve@x.test"})
    assert response.status_code == 200
    response = alice_client.post(reverse("address_book"), {"address": "not an address"})
    assert response.status_code == 200
    assert not Contact.objects.exists()


def test_another_persons_contact_cannot_be_removed(
    alice: User, bob_client: Client
) -> None:
    contact = Contact.objects.create(owner=alice, address="a@x.test", saved=True)
    assert bob_client.post(reverse("contact_delete", args=[contact.pk])).status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert "a@x.test" not in bob_client.get(reverse("address_book")).content.decode()


def test_removing_a_contact(alice: User, alice_client: Client) -> None:
    contact = Contact.objects.create(owner=alice, address="a@x.test", saved=True)
    alice_client.post(reverse("contact_delete", args=[contact.pk]))
    assert not Contact.objects.exists()
