"""Personal settings: page size, theme and density classes, remote images, trusted senders."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_account
from tests.mail.ui_factories import make_folder, make_full_message, make_message
from webmail.mail import preferences
from webmail.mail.models import Folder, Message, Preferences

pytestmark = pytest.mark.django_db
HTML_WITH_IMAGE = (
    b"From: News <news@shop.example>\r\nTo: alice@example.test\r\nSubject: offers\r\n"
    b"Message-ID: <offers@shop.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b'<p>Look <img src="https://images.shop.example/photo.jpg" width="300" height="200"></p>\r\n'
)
PROXIED = "/image/?u="


@pytest.fixture
def inbox(alice: User) -> Folder:
    return make_folder(make_account(alice))


def _save(client: Client, **changes: str) -> None:
    values = {"theme": "system", "density": "comfortable", "page_size": "50",
              "remote_images": "ask", **changes}
    assert client.post(reverse("personal_settings"), values).status_code == 302


def _shown_rows(page: str) -> int:
    return len(re.findall(r'<li id="msg-\d+"', page))


def test_the_settings_page_shows_the_defaults_and_links_to_signatures(
        alice_client: Client) -> None:
    page = alice_client.get(reverse("personal_settings")).content.decode()
    assert 'value="ask" selected' in page and 'value="50" selected' in page
    assert reverse("identities") in page and reverse("label_settings") in page


def test_messages_per_page_changes_the_list_page_size(
        alice_client: Client, alice: User, inbox: Folder) -> None:
    for i in range(60):
        make_message(inbox, subject=f"n{i}", minutes=i)
    assert _shown_rows(alice_client.get(reverse("folder", args=[inbox.pk])).content.decode()) == 50
    _save(alice_client, page_size="25")
    assert _shown_rows(alice_client.get(reverse("folder", args=[inbox.pk])).content.decode()) == 25
    _save(alice_client, page_size="100")
    assert _shown_rows(alice_client.get(reverse("folder", args=[inbox.pk])).content.decode()) == 60
    assert Preferences.objects.get(user=alice).page_size == 100


def test_a_page_size_not_offered_is_refused(alice_client: Client, alice: User) -> None:
    response = alice_client.post(reverse("personal_settings"), {
        "theme": "dark", "density": "compact", "page_size": "100000", "remote_images": "ask"})
    assert response.status_code == 200
    assert not Preferences.objects.filter(user=alice).exists()


def test_theme_and_density_become_classes_on_the_page(alice_client: Client) -> None:
    page = alice_client.get(reverse("home")).content.decode()
    assert 'class="theme-system density-comfortable' in page and "data-theme-pref" not in page
    _save(alice_client, theme="dark", density="compact")
    page = alice_client.get(reverse("home")).content.decode()
    assert 'class="theme-dark density-compact' in page
    assert 'data-theme="dark" data-theme-pref="dark"' in page


def test_remote_images_wait_for_a_click_by_default(alice_client: Client, inbox: Folder) -> None:
    message = make_full_message(inbox, HTML_WITH_IMAGE)
    body = alice_client.get(reverse("message_body", args=[message.pk])).content.decode()
    assert PROXIED not in body and "Show images" in body
    assert "Always show images from news@shop.example" in body


def test_always_show_remote_images_loads_them_through_the_proxy(
        alice_client: Client, inbox: Folder) -> None:
    message = make_full_message(inbox, HTML_WITH_IMAGE)
    _save(alice_client, remote_images="always")
    body = alice_client.get(reverse("message_body", args=[message.pk])).content.decode()
    assert PROXIED in body and "images.shop.example/photo.jpg" not in body
    assert "Show images" not in body


def test_never_show_remote_images_offers_no_button_and_ignores_the_link(
        alice_client: Client, inbox: Folder) -> None:
    message = make_full_message(inbox, HTML_WITH_IMAGE)
    _save(alice_client, remote_images="never")
    url = reverse("message_body", args=[message.pk])
    body = alice_client.get(url).content.decode()
    assert "Remote images are hidden" in body and "Show images" not in body
    assert PROXIED not in alice_client.get(url + "?images=1").content.decode()


def test_always_from_this_sender_trusts_the_address_for_later_messages(
        alice_client: Client, alice: User, inbox: Folder) -> None:
    first = make_full_message(inbox, HTML_WITH_IMAGE)
    body = alice_client.get(reverse("message_body", args=[first.pk])).content.decode()
    link = re.search(r'href="([^"]*/trust-images/[^"]*)"', body)
    assert link
    # Followed from inside the frame, which has no session: the frame token decides.
    response = Client().get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 302 and "images=1" in response["Location"]
    assert preferences.for_user(alice).image_senders == ["news@shop.example"]

    later = make_full_message(inbox, HTML_WITH_IMAGE.replace(b"<offers@", b"<later@"))
    assert PROXIED in alice_client.get(
        reverse("message_body", args=[later.pk])).content.decode()

    alice_client.post(reverse("forget_image_sender"), {"address": "news@shop.example"})
    assert preferences.for_user(alice).image_senders == []


def test_bob_cannot_trust_a_sender_for_alice(
        alice: User, bob_client: Client, inbox: Folder) -> None:
    message: Message = make_full_message(inbox, HTML_WITH_IMAGE)
    url = reverse("trust_images", args=[message.pk])
    assert bob_client.get(url).status_code == 404
    assert Client().get(url + "?t=forged").status_code == 404
    assert preferences.for_user(alice).image_senders == []
