"""No SSRF through a mail account's host: private addresses are refused unless allowed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.hosts import HostNotAllowed
from accounts.models import MailAccount, User
from tests.conftest import make_account
from tests.servers.dovecot import DovecotServer
from webmail.sync.pop3 import pop3_client_for

FORM = {
    "email": "alice@work.example", "protocol": "imap", "incoming_port": 993,
    "incoming_security": "tls", "incoming_username": "alice", "incoming_password": "pw-123",
    "smtp_port": 587, "smtp_security": "starttls", "smtp_same_credentials": "on",
    "pop3_policy": "keep", "pop3_delete_after_days": 14, "poll_interval_minutes": 5,
    "enabled": "on",
}


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost",
                                  "::1"])
def test_an_account_on_a_private_address_is_refused(
    host: str, alice: User, alice_client: Client, settings: SettingsWrapper
) -> None:
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = False
    response = alice_client.post(reverse("account_add"), {**FORM, "incoming_host": host})
    assert "private or local address" in response.content.decode()
    assert not MailAccount.objects.exists()


def test_private_hosts_are_accepted_when_the_admin_allows_them(
    alice: User, alice_client: Client, settings: SettingsWrapper
) -> None:
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = True
    response = alice_client.post(reverse("account_add"), {**FORM, "incoming_host": "10.0.0.1"})
    assert response.status_code == 302
    assert MailAccount.objects.get().incoming_host == "10.0.0.1"


def test_a_worker_does_not_connect_to_a_private_host_either(
    alice: User, running_dovecot: DovecotServer, settings: SettingsWrapper
) -> None:
    # An account saved while private hosts were allowed, then the admin forbids them.
    account = make_account(alice, protocol="pop3", incoming_port=running_dovecot.ports.pop3)
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(HostNotAllowed):
        pop3_client_for(account)


def test_no_imap_connection_to_a_private_host_either(
    alice: User, running_dovecot: DovecotServer, settings: SettingsWrapper
) -> None:
    from webmail.sync.connect import imap_client_for

    account = make_account(alice, incoming_port=running_dovecot.ports.imap)
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(HostNotAllowed):
        imap_client_for(account)
