"""The account connection check against the real Dovecot and SMTP servers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.connection_check import CheckResult, check_account
from accounts.models import MailAccount
from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _trust_the_test_ca(settings: SettingsWrapper, tls_ca: TLSFiles) -> None:
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = True
    settings.WEBMAIL_EXTRA_CA_FILE = tls_ca.ca_file
    settings.WEBMAIL_CHECK_TIMEOUT = 5.0


def make_account(*, password: str, smtp_password: str | None = None,
                 **fields: Any) -> MailAccount:
    owner, _ = get_user_model().objects.get_or_create(username="alice")
    values: dict[str, Any] = {
        "owner": owner,
        "email": "alice@example.org",
        "protocol": "imap",
        "incoming_host": "127.0.0.1",
        "incoming_security": "tls",
        "incoming_username": "alice",
        "smtp_host": "",
    }
    values.update(fields)
    account = MailAccount(**values)
    account.set_incoming_password(password)
    if smtp_password is not None:
        account.smtp_same_credentials = False
        account.set_smtp_password(smtp_password)
    account.save()
    return account


def only(results: tuple[CheckResult, ...]) -> CheckResult:
    assert len(results) == 1
    return results[0]


def test_imap_and_smtp_logins_succeed(dovecot: DovecotServer, smtp: SMTPServer) -> None:
    account = make_account(
        password="alice-pw", incoming_port=dovecot.ports.imaps,
        smtp_host="127.0.0.1", smtp_port=smtp.starttls_port, smtp_security="starttls",
    )
    report = check_account(account)
    assert report.ok, report
    incoming, outgoing = report.results
    assert incoming.server == "incoming"
    assert "Logged in to the IMAP server" in incoming.message
    assert {"IMAP4REV1", "IDLE", "CONDSTORE"} <= incoming.capabilities
    assert outgoing.server == "outgoing"
    assert "Logged in to the SMTP server" in outgoing.message
    assert smtp.auth_attempts == [("alice", "PLAIN", True)]


def test_imap_with_starttls_and_plain_succeed(dovecot: DovecotServer) -> None:
    for security in ("starttls", "none"):
        account = make_account(password="alice-pw", incoming_port=dovecot.ports.imap,
                               incoming_security=security)
        assert check_account(account).ok


def test_pop3_login_succeeds(dovecot: DovecotServer) -> None:
    account = make_account(password="alice-pw", protocol="pop3",
                           incoming_port=dovecot.ports.pop3, incoming_security="starttls")
    result = only(check_account(account).results)
    assert result.ok, result
    assert "Logged in to the POP3 server" in result.message


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_wrong_password_on_dovecot_says_so_without_the_password(
    dovecot: DovecotServer, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = dovecot.ports.imaps if protocol == "imap" else dovecot.ports.pop3s
    account = make_account(password="Hunter2-Wrong", protocol=protocol, incoming_port=port)
    result = only(check_account(account).results)
    assert not result.ok
    assert result.error == "AuthenticationFailed"
    assert "refused the username or password for “alice”" in result.message
    assert "Hunter2-Wrong" not in result.message
    assert "Hunter2-Wrong" not in caplog.text


def test_wrong_smtp_password_is_reported_for_the_outgoing_server(
    dovecot: DovecotServer, smtp: SMTPServer
) -> None:
    account = make_account(
        password="alice-pw", incoming_port=dovecot.ports.imaps, smtp_host="127.0.0.1",
        smtp_port=smtp.tls_port, smtp_security="tls", smtp_username="alice",
        smtp_password="Not-It",
    )
    incoming, outgoing = check_account(account).results
    assert incoming.ok
    assert not outgoing.ok
    assert outgoing.error == "AuthenticationFailed"
    assert "SMTP" in outgoing.message
    assert "Not-It" not in outgoing.message


def test_untrusted_certificate_is_reported(settings: SettingsWrapper,
                                           dovecot: DovecotServer) -> None:
    settings.WEBMAIL_EXTRA_CA_FILE = ""
    account = make_account(password="alice-pw", incoming_port=dovecot.ports.imaps)
    result = only(check_account(account).results)
    assert not result.ok
    assert result.error == "CertificateUntrusted"
    assert "certificate of 127.0.0.1" in result.message
    assert "not trusted" in result.message


def test_a_pinned_certificate_is_trusted_and_a_wrong_pin_is_not(
    settings: SettingsWrapper, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    settings.WEBMAIL_EXTRA_CA_FILE = ""
    pinned = make_account(password="alice-pw", incoming_port=dovecot.ports.imaps,
                          trusted_cert_sha256=tls_ca.cert_sha256)
    assert check_account(pinned).ok
    wrong = make_account(password="alice-pw", incoming_port=dovecot.ports.imaps,
                         trusted_cert_sha256=tls_ca.untrusted_cert_sha256)
    result = only(check_account(wrong).results)
    assert result.error == "CertificateUntrusted"
    assert "fingerprint" in result.message


def test_refused_port_is_reported(refused_port: RefusedPort) -> None:
    account = make_account(password="alice-pw", incoming_port=refused_port.port)
    result = only(check_account(account).results)
    assert result.error == "ConnectionRefused"
    assert f"127.0.0.1:{refused_port.port} refused the connection" in result.message


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_server_that_never_answers_is_a_timeout(blackhole: Blackhole, protocol: str) -> None:
    account = make_account(password="alice-pw", protocol=protocol,
                           incoming_port=blackhole.port)
    result = only(check_account(account, timeout=0.5).results)
    assert result.error == "ConnectTimeout"
    assert "did not answer within 0.5 seconds" in result.message


def test_unknown_host_is_reported() -> None:
    account = make_account(password="alice-pw", incoming_host="mail.nowhere.invalid",
                           incoming_port=993)
    result = only(check_account(account).results)
    assert result.error == "HostNotFound"
    assert "“mail.nowhere.invalid” was not found" in result.message


def test_private_hosts_are_refused_unless_allowed(settings: SettingsWrapper,
                                                  dovecot: DovecotServer) -> None:
    settings.WEBMAIL_ALLOW_PRIVATE_HOSTS = False
    account = make_account(password="alice-pw", incoming_host="localhost",
                           incoming_port=dovecot.ports.imaps)
    result = only(check_account(account).results)
    assert result.error == "HostNotAllowed"
    assert "private or local address" in result.message


def test_smtp_that_requires_a_login_when_none_is_set_is_reported(
    dovecot: DovecotServer, smtp: SMTPServer
) -> None:
    account = make_account(
        password="alice-pw", incoming_port=dovecot.ports.imaps, smtp_host="127.0.0.1",
        smtp_port=smtp.tls_port, smtp_security="tls", smtp_username="", smtp_password="",
    )
    outgoing = check_account(account).results[1]
    assert not outgoing.ok
    assert "requires a login" in outgoing.message


def test_starttls_asked_but_not_offered_is_reported(dovecot: DovecotServer,
                                                    smtp: SMTPServer) -> None:
    account = make_account(
        password="alice-pw", incoming_port=dovecot.ports.imaps, smtp_host="127.0.0.1",
        smtp_port=smtp.plain_port, smtp_security="starttls",
    )
    outgoing = check_account(account).results[1]
    assert outgoing.error == "MissingCapability"
    assert "does not offer STARTTLS" in outgoing.message


def test_smtp_without_auth_when_a_login_is_set_is_reported(dovecot: DovecotServer,
                                                           smtp: SMTPServer) -> None:
    # The STARTTLS listener offers AUTH only after STARTTLS; asked for no encryption.
    account = make_account(
        password="alice-pw", incoming_port=dovecot.ports.imaps, smtp_host="127.0.0.1",
        smtp_port=smtp.starttls_port, smtp_security="none",
    )
    outgoing = check_account(account).results[1]
    assert outgoing.error == "MissingCapability"
    assert "does not offer AUTH" in outgoing.message


def test_a_port_that_is_not_imap_is_reported(dovecot: DovecotServer) -> None:
    account = make_account(password="alice-pw", incoming_port=dovecot.ports.pop3,
                           incoming_security="none")
    result = only(check_account(account).results)
    assert not result.ok
    assert "did not answer as an IMAP server does" in result.message


def test_imap_starttls_asked_on_the_implicit_tls_port_is_a_tls_or_timeout_error(
    dovecot: DovecotServer,
) -> None:
    account = make_account(password="alice-pw", incoming_port=dovecot.ports.imaps,
                           incoming_security="starttls")
    result = only(check_account(account, timeout=1).results)
    assert not result.ok
    assert result.error in {"ConnectTimeout", "ProtocolViolation", "ConnectionLost"}
