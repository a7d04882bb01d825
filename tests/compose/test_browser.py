"""In a real browser: write with the editor, attach a file, send, find it in Sent.

Skips when Debian's chromium, the playwright package or the built editor assets
(scripts/build_assets.sh) are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import MailAccount
from tests.compose.conftest import wait_for
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer

TRIX = Path(django_settings.BASE_DIR) / "static" / "vendor" / "trix" / "trix.umd.min.js"


@pytest.fixture
def chromium_page(browser: Any) -> Iterator[Any]:
    if not TRIX.exists():
        pytest.skip("needs the editor assets: bash scripts/build_assets.sh")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def test_compose_attach_send_and_find_it_in_sent(
        chromium_page: Any, live_server: Any, imap_account: MailAccount, smtp: SMTPServer,
        running_dovecot: DovecotServer, celery_worker: object, tmp_path: Path,
        settings: Any) -> None:
    settings.WEBMAIL_UNDO_SECONDS = 1
    page = chromium_page
    client = Client()
    client.force_login(imap_account.owner)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)

    page.goto(f"{live_server.url}/compose/")
    page.wait_for_selector("trix-editor")
    page.fill("#id_to", "Bob <bob@example.net>")
    page.fill("#id_subject", "Written in a browser")
    page.click("trix-editor")
    page.keyboard.type("Hello from the editor")
    page.click("trix-toolbar button[data-trix-attribute=bold]")
    page.keyboard.type(" in bold")
    page.set_input_files("#file-picker", str(report))
    page.wait_for_selector("#attachments li:has-text('report.pdf')")
    page.click("#send-button")
    page.wait_for_url(f"{live_server.url}/compose/outbox/**")

    wait_for(lambda: smtp.accepted, what="the server to accept the message")
    sent = message_from_bytes(smtp.accepted[0].data, policy=policy.default)
    assert sent["Subject"] == "Written in a browser"
    body, attached = sent.iter_parts()
    plain, html = body.iter_parts()
    assert "Hello from the editor in bold" in plain.get_content()
    assert "in bold</strong>" in html.get_content()
    assert attached.get_payload(decode=True) == report.read_bytes()
    wait_for(lambda: running_dovecot.messages("alice", "Sent"), what="the Sent copy")
    page.wait_for_selector("tr.state-sent", timeout=15_000)  # the outbox page refreshes
    assert page.js_errors == []
