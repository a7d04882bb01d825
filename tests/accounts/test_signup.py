from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import signup
from accounts.models import SiteSettings, User
from tests.conftest import make_user

PASSWORD = "a long pass phrase 7"


def _signup(client: Client, email: str, invite: str = "", username: str = "newbie") -> int:
    url = reverse("signup") + (f"?invite={invite}" if invite else "")
    response = client.post(url, {"username": username, "email": email, "password1": PASSWORD,
                                 "password2": PASSWORD, "invite": invite})
    return response.status_code


def _policy(policy: str, domains: str = "") -> None:
    site = SiteSettings.current()
    site.registration_policy = policy
    site.allowed_domains = domains
    site.save()


@pytest.mark.django_db
def test_sign_up_is_by_invitation_by_default() -> None:
    make_user("root", is_staff=True)
    assert _signup(Client(), "x@example.test") == 403
    assert not User.objects.filter(username="newbie").exists()

    invitation = signup.create_invitation(email="x@example.test", created_by=None)
    assert _signup(Client(), "x@example.test", invite=invitation.token) == 302
    assert User.objects.filter(username="newbie").exists()
    # One invitation, one account.
    assert _signup(Client(), "y@example.test", invite=invitation.token, username="other") == 403


@pytest.mark.django_db
def test_open_sign_up_lets_anyone_in() -> None:
    make_user("root")
    _policy("open")
    assert _signup(Client(), "anyone@anywhere.test") == 302


@pytest.mark.django_db
def test_domain_sign_up_only_for_listed_domains() -> None:
    make_user("root")
    _policy("domains", "example.org\n@corp.example")
    assert _signup(Client(), "me@elsewhere.test") == 200
    assert not User.objects.filter(username="newbie").exists()
    assert _signup(Client(), "me@corp.example") == 302


@pytest.mark.django_db
def test_password_reset_by_email_link() -> None:
    make_user("alice")
    client = Client()
    client.post(reverse("password_reset"), {"email": "alice@example.test"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "fresh pass phrase 3",
                                      "new_password2": "fresh pass phrase 3"})
    assert response.status_code == 302
    response = Client().post(
        reverse("login"), {"username": "alice", "password": "fresh pass phrase 3"}
    )
    assert response.status_code == 302
