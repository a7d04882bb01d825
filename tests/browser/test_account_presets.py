"""Provider presets on the account form, in chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import log_in
from tests.conftest import DEFAULT_PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_preset_fills_hosts_ports_and_security_and_explains_app_passwords(
    page: Any, live_server: Any
) -> None:
    person = make_user("alice")
    log_in(page, live_server.url, person.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/accounts/add/")
    # A new person sees the empty mailbox's way here too.
    page.fill("#id_email", "alice@gmail.example")
    page.click("button[data-preset='gmail']")
    assert page.input_value("#id_incoming_host") == "imap.gmail.com"
    assert page.input_value("#id_incoming_port") == "993"
    assert page.input_value("#id_incoming_security") == "tls"
    assert page.input_value("#id_smtp_host") == "smtp.gmail.com"
    assert page.input_value("#id_smtp_port") == "465"
    assert page.input_value("#id_incoming_username") == "alice@gmail.example"
    assert "app password" in page.inner_text("#preset-note")
    page.click("button[data-preset='icloud']")
    assert page.input_value("#id_smtp_security") == "starttls"
    assert page.get_attribute("button[data-preset='icloud']", "aria-pressed") == "true"


def test_a_new_person_is_led_from_the_empty_mailbox_to_the_account_form(
    page: Any, live_server: Any
) -> None:
    person = make_user("alice")
    log_in(page, live_server.url, person.username, DEFAULT_PASSWORD)
    page.click("text=Add your first mail account >> nth=0")
    page.wait_for_url(f"{live_server.url}/accounts/add/")
