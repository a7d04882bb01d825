"""The heartbeat (/mail/changes/) polls every 5 s while the tab is shown, every 60 s
while it is hidden, and at once when the tab is shown again: most of a busy site's
requests are this poll, and a hidden tab needs it only for the title and notifications."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import MailAccount, User
from tests.browser.conftest import log_in
from tests.browser.test_mailbox import synced  # noqa: F401  (the fixture)
from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SET_HIDDEN = """hidden => {
    Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_a_hidden_tab_stops_the_fast_poll_and_a_shown_tab_polls_at_once(
    page: Any, live_server: Any, synced: tuple[User, MailAccount],  # noqa: F811
) -> None:
    person, _ = synced
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/mail/changes/" in r.url else None)
    log_in(page, live_server.url, person.username, DEFAULT_PASSWORD)
    page.wait_for_selector("#live", state="attached")

    page.wait_for_timeout(5_600)
    assert len(polls) >= 1, "a shown tab polls every 5 s"

    page.evaluate(SET_HIDDEN, True)
    hidden_from = len(polls)
    page.wait_for_timeout(11_000)
    assert len(polls) == hidden_from, "a hidden tab waits 60 s between polls"

    page.evaluate(SET_HIDDEN, False)
    page.wait_for_timeout(1_500)
    assert len(polls) == hidden_from + 1, "showing the tab polls at once"
