from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_user


@pytest.mark.django_db
def test_first_run_leads_to_setup_which_creates_the_first_admin_then_disappears() -> None:
    client = Client()
    assert client.get("/").headers["Location"] == reverse("setup")
    assert client.get(reverse("login")).headers["Location"] == reverse("setup")

    response = client.post(
        reverse("setup"),
        {"username": "root", "email": "root@example.test",
         "password": "a long pass phrase", "password_again": "a long pass phrase"},
    )
    assert response.status_code == 302
    admin = User.objects.get()
    assert admin.is_superuser and admin.is_staff
    # Logged in straight away.
    assert client.get("/").status_code == 200

    assert Client().get(reverse("setup")).status_code == 404
    assert Client().post(
        reverse("setup"),
        {"username": "second", "email": "x@example.test",
         "password": "another long phrase", "password_again": "another long phrase"},
    ).status_code == 404
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_setup_rejects_a_weak_or_mismatched_password() -> None:
    client = Client()
    response = client.post(
        reverse("setup"),
        {"username": "root", "email": "root@example.test",
         "password": "123", "password_again": "123"},
    )
    assert response.status_code == 200
    assert not User.objects.exists()


@pytest.mark.django_db
def test_login_and_logout() -> None:
    make_user("alice", password="right password here")
    client = Client()
    response = client.post(
        reverse("login"), {"username": "alice", "password": "right password here"}
    )
    assert response.status_code == 302
    assert client.get(reverse("account_list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("account_list")).status_code == 302


@pytest.mark.django_db
def test_repeated_wrong_logins_lock_the_login_out() -> None:
    make_user("alice", password="right password here")
    client = Client()
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code in (403, 429)
    # Even the right password is refused while locked.
    response = client.post(
        reverse("login"), {"username": "alice", "password": "right password here"}
    )
    assert response.status_code in (403, 429)
    assert "Too many failed logins" in response.content.decode()
    assert client.get(reverse("account_list")).status_code == 302


@pytest.mark.django_db
def test_changing_the_password_ends_other_sessions() -> None:
    make_user("alice", password="old password here")
    first, second = Client(), Client()
    for client in (first, second):
        client.post(reverse("login"), {"username": "alice", "password": "old password here"})
    response = first.post(
        reverse("password_change"),
        {"old_password": "old password here", "new_password1": "brand new phrase 9",
         "new_password2": "brand new phrase 9"},
    )
    assert response.status_code == 302
    assert first.get(reverse("account_list")).status_code == 200
    assert second.get(reverse("account_list")).status_code == 302
