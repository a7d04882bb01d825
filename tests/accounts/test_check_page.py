"""The "Test settings" button: queued to a real worker, the page polls for the answer."""

from __future__ import annotations

import time

from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from tests.conftest import make_account
from tests.servers.dovecot import DovecotServer
from tests.servers.tls import TLSFiles


def _poll(client: Client, html: str, deadline: float = 30.0) -> str:
    """Follow the fragment's hx-get until it stops saying "Checking"."""
    end = time.monotonic() + deadline
    while "Checking the servers" in html and time.monotonic() < end:
        url = html.split('hx-get="')[1].split('"')[0]
        time.sleep(0.2)
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    return html


def test_test_settings_reports_a_wrong_password_in_words(
    celery_worker: object, running_dovecot: DovecotServer, tls_ca: TLSFiles,
    settings: SettingsWrapper,
) -> None:
    settings.WEBMAIL_EXTRA_CA_FILE = tls_ca.ca_file
    alice = User.objects.create_user("alice", password="pw-for-the-site")
    client = Client()
    client.force_login(alice)
    account = make_account(alice, password="not-the-password", incoming_security="tls",
                           incoming_port=running_dovecot.ports.imaps)

    html = client.post(reverse("account_test", args=[account.pk])).content.decode()
    html = _poll(client, html)

    assert "Incoming:" in html
    assert "username or password" in html.lower()
    assert "not-the-password" not in html


def test_test_settings_says_ok_for_the_right_password(
    celery_worker: object, running_dovecot: DovecotServer, tls_ca: TLSFiles,
    settings: SettingsWrapper,
) -> None:
    settings.WEBMAIL_EXTRA_CA_FILE = tls_ca.ca_file
    alice = User.objects.create_user("alice", password="pw-for-the-site")
    client = Client()
    client.force_login(alice)
    account = make_account(alice, password=running_dovecot.users["alice"],
                           incoming_security="tls", incoming_port=running_dovecot.ports.imaps)

    html = _poll(client, client.post(reverse("account_test", args=[account.pk])).content.decode())

    assert 'class="ok"' in html
