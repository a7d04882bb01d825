from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import MailAccount, User
from tests.conftest import make_account

ACCOUNT_URLS = ["account_edit", "account_delete", "account_test"]


def _form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "display_name": "Work",
        "email": "alice@work.example",
        "protocol": "imap",
        "incoming_host": "imap.work.example",
        "incoming_port": 993,
        "incoming_security": "tls",
        "incoming_username": "alice",
        "incoming_password": "imap-pass-123",
        "smtp_host": "smtp.work.example",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_same_credentials": "on",
        "pop3_policy": "keep",
        "pop3_delete_after_days": 14,
        "poll_interval_minutes": 5,
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_a_person_adds_an_account_and_the_password_is_never_shown_back(
    alice: User, alice_client: Client
) -> None:
    response = alice_client.post(reverse("account_add"), _form())
    account = MailAccount.objects.get(owner=alice)
    assert response.status_code == 302
    assert account.incoming_password() == "imap-pass-123"

    page = alice_client.get(reverse("account_edit", args=[account.pk])).content.decode()
    assert "imap.work.example" in page
    assert "imap-pass-123" not in page
    assert account.incoming_password_encrypted not in page


def test_saving_without_a_password_keeps_the_old_one(alice: User, alice_client: Client) -> None:
    account = make_account(alice, password="keep-me")
    alice_client.post(
        reverse("account_edit", args=[account.pk]),
        _form(incoming_password="", display_name="Renamed"),
    )
    account.refresh_from_db()
    assert account.display_name == "Renamed"
    assert account.incoming_password() == "keep-me"


def test_a_host_with_a_path_is_refused_with_a_clear_message(alice_client: Client) -> None:
    response = alice_client.post(reverse("account_add"), _form(incoming_host="evil/../x"))
    assert response.status_code == 200
    assert "Enter a host name" in response.content.decode()
    assert not MailAccount.objects.exists()


def test_removing_an_account_deletes_it(alice: User, alice_client: Client) -> None:
    account = make_account(alice)
    response = alice_client.post(reverse("account_delete", args=[account.pk]))
    assert response.status_code == 302
    assert not MailAccount.objects.filter(pk=account.pk).exists()


def test_the_list_shows_only_ones_own_accounts(
    alice: User, bob: User, alice_client: Client
) -> None:
    make_account(alice, email="alice@own.example")
    make_account(bob, email="bob@other.example")
    page = alice_client.get(reverse("account_list")).content.decode()
    assert "alice@own.example" in page
    assert "bob@other.example" not in page


@pytest.mark.parametrize("name", ACCOUNT_URLS)
def test_another_persons_account_is_not_found_on_every_url(
    name: str, alice: User, bob: User, bob_client: Client
) -> None:
    account = make_account(alice, password="alice-secret")
    for method in ("get", "post"):
        response = getattr(bob_client, method)(reverse(name, args=[account.pk]), _form())
        assert response.status_code in (404, 405), (name, method, response.status_code)
    account.refresh_from_db()
    assert account.display_name == ""
    assert MailAccount.objects.filter(pk=account.pk).exists()


def test_another_persons_check_result_is_not_found(
    alice: User, bob: User, bob_client: Client
) -> None:
    account = make_account(alice)
    url = reverse("account_test_result", args=[account.pk, "any-task-id"])
    assert bob_client.get(url).status_code == 404


def test_pages_need_a_login(alice: User) -> None:
    account = make_account(alice)
    client = Client()
    for name in ["account_list", "account_add"]:
        assert client.get(reverse(name)).status_code == 302
    for name in ACCOUNT_URLS:
        response = client.post(reverse(name, args=[account.pk]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_forms_post_with_a_csrf_token(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("account_add"), _form())
    assert response.status_code == 403
    assert not MailAccount.objects.exists()


def test_the_number_of_accounts_per_person_is_limited(alice: User, alice_client: Client) -> None:
    from accounts.models import SiteSettings

    site = SiteSettings.current()
    site.max_accounts_per_user = 1
    site.save()
    assert alice_client.post(reverse("account_add"), _form()).status_code == 302
    response = alice_client.post(reverse("account_add"), _form(email="second@work.example"))
    assert "at most 1 mail accounts" in response.content.decode()
    assert MailAccount.objects.filter(owner=alice).count() == 1
