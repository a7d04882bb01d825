"""Labels and settings in chromium: the label menu, chips, the server's keyword, the theme."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from accounts.models import MailAccount, User
from tests.browser.conftest import log_in, page  # noqa: F401 - fixture
from tests.browser.test_mailbox import synced  # noqa: F401 - fixture
from tests.conftest import DEFAULT_PASSWORD
from tests.servers.dovecot import DovecotServer
from webmail.mail import labels
from webmail.mail.models import Message
from webmail.sync.lease import LeaseBusy
from webmail.sync.operations import replay_operations

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_label_chosen_in_the_menu_shows_as_a_chip_and_reaches_the_server(
    page: Any, live_server: Any, synced: tuple[User, MailAccount],  # noqa: F811
    running_dovecot: DovecotServer,
) -> None:
    person, account = synced
    labels.create_label(owner=person, name="Work", colour="green")
    base = live_server.url
    log_in(page, base, person.username, DEFAULT_PASSWORD)
    third = Message.objects.get(account=account, subject="Third thing")

    page.wait_for_selector("#message-rows > .row")
    page.check(f"#msg-{third.pk} input.select")
    page.select_option("#label-target", label="Work")
    page.click("#bulk button[value=add][name=label_action]")
    page.wait_for_selector(f"#msg-{third.pk} .chip.label-green:has-text('Work')")
    assert page.js_errors == []

    # The worker may be replaying the queued keyword already (it holds the lease then):
    # wait for what the server holds, replaying ourselves whenever the lease is free.
    deadline = time.monotonic() + 15
    while not any("work" in f for f in running_dovecot.flags("alice")):
        assert time.monotonic() < deadline, "the label never reached the server"
        with contextlib.suppress(LeaseBusy):
            replay_operations(account.pk, force=True)
        time.sleep(0.1)
    assert sum("work" in f for f in running_dovecot.flags("alice")) == 1

    page.click("#folders a:has-text('Work')")
    page.wait_for_selector("#list-pane h1 .chip:has-text('Work')")
    assert page.locator("#message-rows > .row .subject").all_inner_texts() == ["Third thing"]


def test_z_undoes_a_label_in_the_page_and_on_the_server(
    page: Any, live_server: Any, synced: tuple[User, MailAccount],  # noqa: F811
    running_dovecot: DovecotServer,
) -> None:
    person, account = synced
    labels.create_label(owner=person, name="Work", colour="green")
    log_in(page, live_server.url, person.username, DEFAULT_PASSWORD)
    third = Message.objects.get(account=account, subject="Third thing")
    page.wait_for_selector("#message-rows > .row")
    page.check(f"#msg-{third.pk} input.select")
    page.select_option("#label-target", label="Work")
    page.click("#bulk button[value=add][name=label_action]")
    page.wait_for_selector(f"#msg-{third.pk} .chip:has-text('Work')")
    page.wait_for_selector("#toast [data-shortcut='undo']")

    page.locator("body").press("z")
    page.wait_for_selector("#toast:has-text('Undone: Labelled')")
    page.locator(f"#msg-{third.pk} .chip:has-text('Work')").wait_for(state="detached")
    third.refresh_from_db()
    assert "work" not in third.keywords

    # Whatever the worker carried meanwhile, the server ends without the keyword.
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(LeaseBusy):
            replay_operations(account.pk, force=True)
            if not any("work" in f for f in running_dovecot.flags("alice")):
                break
        assert time.monotonic() < deadline, "the server kept the undone label"
        time.sleep(0.1)
    assert page.js_errors == []


def test_a_dark_theme_chosen_in_settings_applies_to_every_page(
    page: Any, live_server: Any, synced: tuple[User, MailAccount],  # noqa: F811
) -> None:
    person, _account = synced
    base = live_server.url
    log_in(page, base, person.username, DEFAULT_PASSWORD)
    page.goto(f"{base}/settings/")
    page.select_option("#id_theme", "dark")
    page.select_option("#id_density", "compact")
    page.click("form.settings-form button[type=submit]")
    page.goto(f"{base}/")
    assert page.get_attribute("html", "data-theme") == "dark"
    assert "density-compact" in (page.get_attribute("body", "class") or "")
    assert page.js_errors == []
