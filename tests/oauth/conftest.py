"""Real components on loopback: the test OAuth2 provider, a Dovecot whose oauth2 passdb
introspects tokens there, and an SMTP server that does the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.models import AuthKind, MailAccount, User
from accounts.oauth.models import OAuthClient, OAuthProvider
from accounts.oauth.tokens import store_grant
from tests.servers.dovecot import dovecot_available
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.fixtures import MISSING_DOVECOT
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET
from tests.servers.oauth_provider import OAuthProvider as TestProvider
from tests.servers.oauth_smtp import OAuthSMTPServer
from tests.servers.tls import TLSFiles


@pytest.fixture(scope="session")
def oauth_provider_server() -> Iterator[TestProvider]:
    provider = TestProvider()
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def oauth_provider(oauth_provider_server: TestProvider) -> TestProvider:
    oauth_provider_server.reset()
    return oauth_provider_server


@pytest.fixture(scope="session")
def oauth_dovecot(tls_ca: TLSFiles, oauth_provider_server: TestProvider
                  ) -> Iterator[OAuthDovecotServer]:
    if not dovecot_available():
        pytest.skip(MISSING_DOVECOT)
    server = OAuthDovecotServer(tls_ca, introspection_url=oauth_provider_server.url(
        "/introspect"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def oauth_mailbox(oauth_dovecot: OAuthDovecotServer) -> Iterator[OAuthDovecotServer]:
    """The oauth2 Dovecot with alice's mailbox emptied before and after."""
    oauth_dovecot.start()
    oauth_dovecot.reset_user("alice")
    yield oauth_dovecot
    oauth_dovecot.reset_user("alice")


@pytest.fixture(scope="session")
def oauth_smtp_server(oauth_provider_server: TestProvider) -> Iterator[OAuthSMTPServer]:
    server = OAuthSMTPServer(oauth_provider_server.url("/introspect"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oauth_smtp(oauth_smtp_server: OAuthSMTPServer) -> OAuthSMTPServer:
    oauth_smtp_server.reset()
    return oauth_smtp_server


@pytest.fixture
def oauth_client(db: None, oauth_provider: TestProvider, oauth_mailbox: OAuthDovecotServer,
                 oauth_smtp: OAuthSMTPServer) -> OAuthClient:
    return make_oauth_client(oauth_provider, oauth_mailbox, oauth_smtp)


def make_oauth_client(oauth_provider: TestProvider, oauth_mailbox: OAuthDovecotServer,
                      oauth_smtp: OAuthSMTPServer) -> OAuthClient:
    client = OAuthClient(
        name="Example", provider=OAuthProvider.GENERIC, client_id=CLIENT_ID,
        authorization_url=oauth_provider.url("/authorize"),
        token_url=oauth_provider.url("/token"),
        revocation_url=oauth_provider.url("/revoke"), scopes="mail offline_access",
        incoming_protocol="imap", incoming_host="127.0.0.1",
        incoming_port=oauth_mailbox.ports.imap, incoming_security="none",
        smtp_host="127.0.0.1", smtp_port=oauth_smtp.port, smtp_security="none",
    )
    client.set_client_secret(CLIENT_SECRET)
    client.save()
    return client


def grant_for(provider: TestProvider, user: str) -> dict[str, object]:
    """A token response for `user` as if the person had just approved (code + PKCE)."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlparse

    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    location = provider.authorize({
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": "http://x/cb",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "login_hint": f"{user}@example.test", "state": "s"})
    code = parse_qs(urlparse(location).query)["code"][0]
    status, token = provider.token({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type":
        "authorization_code", "code": code, "redirect_uri": "http://x/cb",
        "code_verifier": verifier})
    assert status == 200
    return token


def make_oauth_account(owner: User, client: OAuthClient, provider: TestProvider,
                       user: str = "alice") -> MailAccount:
    account = MailAccount(
        owner=owner, email=f"{user}@example.test", auth_kind=AuthKind.OAUTH2,
        oauth_client=client, incoming_host=client.incoming_host,
        incoming_port=client.incoming_port or 0, incoming_security="none",
        incoming_username=f"{user}@example.test", smtp_host=client.smtp_host,
        smtp_port=client.smtp_port or 0, smtp_security="none",
    )
    store_grant(account, grant_for(provider, user))
    account.save()
    return account
