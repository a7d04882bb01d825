"""Key rotation covers the OAuth2 tokens and the clients' secrets."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from accounts.models import MailAccount, User
from accounts.oauth import tokens
from accounts.oauth.models import OAuthClient
from accounts.rotation import rotate_all_credentials
from tests.oauth.conftest import make_oauth_account
from tests.servers.oauth_provider import CLIENT_SECRET, OAuthProvider

pytestmark = pytest.mark.django_db


def test_rotation_re_encrypts_tokens_and_client_secrets(
        alice: User, oauth_client: OAuthClient, oauth_provider: OAuthProvider,
        settings: Any) -> None:
    account = make_oauth_account(alice, oauth_client, oauth_provider)
    token = tokens.access_token_for(account)
    old = list(settings.CREDENTIAL_KEYS)
    new = Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [new, *old]
    rotate_all_credentials()
    settings.CREDENTIAL_KEYS = [new]
    assert tokens.access_token_for(MailAccount.objects.get(pk=account.pk)) == token
    assert OAuthClient.objects.get(pk=oauth_client.pk).client_secret() == CLIENT_SECRET
