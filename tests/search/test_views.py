"""The search page as a person uses it: full page, htmx fragment, only their own mail."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import make_account
from tests.search.factories import make_folder, make_message
from webmail.mail.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_mail(alice: User) -> int:
    folder = make_folder(make_account(alice, email="alice@work.example"))
    make_message(folder, "Tender for the bridge", "The <b>zeppelin</b> hangar tender.",
                 sender=("Bob Builder", "bob@builder.example"))
    return make_message(folder, "Zeppelin flight", "Boarding at noon for the zeppelin.").pk


def test_search_needs_a_login(client: Client, alice: User) -> None:
    response = client.get("/search/?q=zeppelin")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_results_link_to_the_reading_pane_with_marked_snippets(
        alice_client: Client, alice_mail: int) -> None:
    response = alice_client.get("/search/", {"q": "zeppelin"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page
    assert f'href="/mail/message/{alice_mail}/"' in page
    assert "<mark>zeppelin</mark>" in page
    assert "<b>zeppelin" not in page
    assert 'hx-trigger="keyup changed delay:300ms, search"' in page


def test_htmx_gets_only_the_results_fragment(alice_client: Client, alice_mail: int) -> None:
    response = alice_client.get("/search/", {"q": "zeppelin"}, headers={
        "HX-Request": "true", "HX-Target": "search-results"})
    page = response.content.decode()
    assert "<html" not in page
    assert f"/mail/message/{alice_mail}/" in page
    assert "HX-Request" in response["Vary"]


def test_more_results_come_page_by_page(alice_client: Client, alice: User) -> None:
    folder = make_folder(make_account(alice))
    for i in range(55):
        make_message(folder, f"Walrus report {i}", "walrus", day=f"2024-01-{i % 28 + 1:02d}")
    first = alice_client.get("/search/", {"q": "walrus"}).content.decode()
    assert first.count('id="hit-') == 50
    assert 'id="more-results"' in first
    more = alice_client.get("/search/", {"q": "walrus", "after": "o50"}, headers={
        "HX-Request": "true", "HX-Target": "more-results"}).content.decode()
    assert more.count('id="hit-') == 5
    assert "more-results" not in more


def test_another_person_finds_nothing_of_alices(bob_client: Client, bob: User,
                                                alice_mail: int) -> None:
    own = make_folder(make_account(bob))
    make_message(own, "Bob's zeppelin", "zeppelin")
    alices_account = str(Message.objects.get(pk=alice_mail).account_id)
    for params in ({"q": "zeppelin"}, {"q": "zeppelin", "account": alices_account},
                   {"q": "from:bob"}, {"q": "-nothingatall"}):
        page = bob_client.get("/search/", params).content.decode()
        assert f"/mail/message/{alice_mail}/" not in page
        assert "Zeppelin flight" not in page


def test_an_unreadable_query_is_explained(alice_client: Client, alice_mail: int) -> None:
    response = alice_client.get("/search/", {"q": "before:someday"})
    assert response.status_code == 200
    assert "is not a date" in response.content.decode()


def test_pending_bodies_are_announced(alice_client: Client, alice: User) -> None:
    folder = make_folder(make_account(alice))
    make_message(folder, "Zeppelin", body_state="headers", search_text="")
    page = alice_client.get("/search/", {"q": "zeppelin"}).content.decode()
    assert "1 message still being downloaded" in page
    assert "body not downloaded yet" in page
