"""The admin registers OAuth2 clients: presets fill Google's and Microsoft's endpoints,
the secret is write-only and stored encrypted."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import MailAccount, User
from accounts.oauth.models import OAuthClient
from tests.conftest import make_user
from tests.oauth.conftest import make_oauth_account
from tests.servers.oauth_provider import OAuthProvider

pytestmark = pytest.mark.django_db


def _admin_client() -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_a_google_client_gets_the_presets_and_an_encrypted_secret() -> None:
    admin = _admin_client()
    response = admin.post("/admin/accounts/oauthclient/add/", {
        "name": "Google", "provider": "google", "enabled": "on",
        "client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-hush",
        "incoming_protocol": "imap", "incoming_security": "tls", "smtp_security": "tls",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    client = OAuthClient.objects.get(name="Google")
    assert client.token_url == "https://oauth2.googleapis.com/token"
    assert client.scopes == "https://mail.google.com/"
    assert client.incoming_host == "imap.gmail.com" and client.smtp_port == 465
    assert "GOCSPX-hush" not in client.client_secret_encrypted
    assert client.client_secret() == "GOCSPX-hush"
    page = admin.get(f"/admin/accounts/oauthclient/{client.pk}/change/").content.decode()
    assert "GOCSPX-hush" not in page and client.client_secret_encrypted not in page


def test_removing_an_oauth_account_revokes_its_grant(
        alice_client: Client, alice: User, oauth_client: OAuthClient,
        oauth_provider: OAuthProvider) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    alice_client.post(f"/accounts/{account.pk}/delete/")
    assert not MailAccount.objects.filter(pk=account.pk).exists()
    assert oauth_provider.count("revoke") == 1
    assert all(grant.revoked for grant in oauth_provider.grants.values())
