"""Every main page at 360 px wide (a small phone): nothing wider than the screen, and the
same pages in French (longer words) too."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import make_account
from tests.mail.ui_factories import make_folder, make_message
from webmail.compose.identities import identities_for_user
from webmail.mail import labels

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_main_pages_fit_a_360_px_screen(
        browser: Any, live_server: Any, alice: User, language: str) -> None:
    account = make_account(alice)
    inbox = make_folder(account)
    message = make_message(inbox, subject="A subject long enough to need wrapping on a phone "
                                          "screen, and then some more words")
    label = labels.create_label(owner=alice, name="Travail", colour="green")
    identities_for_user(alice)
    client = Client()
    client.force_login(alice)
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  locale=language, extra_http_headers={
                                      "Accept-Language": language})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    paths = ["/", f"/mail/message/{message.pk}/", f"/mail/label/{label.pk}/", "/settings/labels/",
             "/settings/", "/accounts/", "/accounts/add/", f"/accounts/{account.pk}/",
             "/compose/", "/compose/drafts/", "/compose/outbox/", "/compose/identities/",
             "/compose/address-book/", "/search/?q=subject", "/data/import/", "/password/"]
    too_wide = {}
    try:
        for path in paths:
            page.goto(live_server.url + path)
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 360:
                too_wide[path] = width
    finally:
        context.close()
    assert too_wide == {}
