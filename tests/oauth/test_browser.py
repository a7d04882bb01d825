"""In chromium: Connect with the provider, approve, and the mail shows up."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import MailAccount
from tests.browser.conftest import log_in, page  # noqa: F401 - the page fixture
from tests.conftest import DEFAULT_PASSWORD, make_user
from tests.oauth.conftest import make_oauth_client
from tests.servers.dovecot_oauth import OAuthDovecotServer
from tests.servers.oauth_provider import OAuthProvider
from tests.servers.oauth_smtp import OAuthSMTPServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_connecting_with_the_provider_in_the_browser_syncs_the_account(
        page: Any, live_server: Any, celery_worker: object,  # noqa: F811
        oauth_provider: OAuthProvider, oauth_mailbox: OAuthDovecotServer,
        oauth_smtp: OAuthSMTPServer) -> None:
    oauth_mailbox.deliver("alice", b"From: Carol <carol@example.net>\r\n"
                                   b"Subject: Hello through OAuth\r\n\r\nHi\r\n")
    make_oauth_client(oauth_provider, oauth_mailbox, oauth_smtp)
    person = make_user("alice")
    base = live_server.url
    log_in(page, base, person.username, DEFAULT_PASSWORD)

    page.goto(f"{base}/accounts/")
    page.click("text=Connect with Example")
    page.fill("#id_email", "alice@example.test")
    page.click("button:has-text('Continue to Example')")
    # The provider approves at once and sends the browser back to our callback.
    page.wait_for_url(f"{base}/accounts/")
    assert page.locator("text=alice@example.test").count() >= 1
    assert oauth_provider.count("token:authorization_code") == 1

    page.goto(f"{base}/")
    page.wait_for_selector("#message-rows > .row:has-text('Hello through OAuth')",
                           timeout=30_000)
    account = MailAccount.objects.get(owner=person)
    assert account.auth_kind == "oauth2" and not account.reconnect_needed
    assert page.js_errors == []
