from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.models import MailAccount, User
from tests.conftest import make_account, make_user


def _admin_client() -> Client:
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_the_admin_never_shows_a_stored_password(alice: User) -> None:
    account = make_account(alice, password="admin-must-not-see")
    page = _admin_client().get(
        reverse("admin:accounts_mailaccount_change", args=[account.pk])
    ).content.decode()
    assert "alice@mail.example.test" in page
    assert "admin-must-not-see" not in page
    assert account.incoming_password_encrypted not in page


def test_the_admin_can_set_a_password_and_pin_a_certificate(alice: User) -> None:
    account = make_account(alice, password="old")
    client = _admin_client()
    url = reverse("admin:accounts_mailaccount_change", args=[account.pk])
    data = {
        "owner": alice.pk, "display_name": "", "email": account.email, "protocol": "imap",
        "incoming_host": "127.0.0.1", "incoming_port": 10143, "incoming_security": "none",
        "incoming_username": "alice", "incoming_password": "new-from-admin",
        "smtp_host": "", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_same_credentials": "on", "smtp_username": "", "smtp_password": "",
        "trusted_cert_sha256": "ab" * 32, "pop3_policy": "keep",
        "pop3_delete_after_days": 14, "poll_interval_minutes": 5, "enabled": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.incoming_password() == "new-from-admin"
    assert account.trusted_cert_sha256 == "ab" * 32


def test_a_person_cannot_pin_a_certificate_from_their_own_form(
    alice: User, alice_client: Client
) -> None:
    account = make_account(alice)
    alice_client.post(
        reverse("account_edit", args=[account.pk]),
        {"email": account.email, "protocol": "imap", "incoming_host": "imap.example.test",
         "incoming_port": 993, "incoming_security": "tls", "incoming_username": "alice",
         "smtp_port": 587, "smtp_security": "starttls", "smtp_same_credentials": "on",
         "pop3_policy": "keep", "pop3_delete_after_days": 14, "poll_interval_minutes": 5,
         "trusted_cert_sha256": "cd" * 32, "enabled": "on"},
    )
    account.refresh_from_db()
    assert account.incoming_host == "imap.example.test"
    assert account.trusted_cert_sha256 == ""
    assert MailAccount.objects.count() == 1
