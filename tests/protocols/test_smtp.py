"""The SMTP client against the real aiosmtpd fixture."""

from __future__ import annotations

import time

import pytest

from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles
from webmail.protocols.errors import (
    AuthenticationFailed,
    CertificateUntrusted,
    ConnectionRefused,
    ConnectTimeout,
    MissingCapability,
    PermanentServerError,
    TemporaryServerError,
)
from webmail.protocols.smtp import SmtpClient
from webmail.protocols.tls import Security, ServerEndpoint

MESSAGE = (
    b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
    b"Subject: Hello\r\nMessage-ID: <hello@example.org>\r\n\r\nHi Bob.\r\n"
)


def endpoint(smtp: SMTPServer, tls_ca: TLSFiles, security: Security = "starttls", *,
             username: str = "alice", password: str | None = None, ca: bool = True,
             pin: str = "", timeout: float = 10) -> ServerEndpoint:
    port = {"none": smtp.plain_port, "starttls": smtp.starttls_port, "tls": smtp.tls_port}
    return ServerEndpoint(
        host="127.0.0.1", port=port[security], security=security, username=username,
        password=smtp.users[username] if password is None else password, timeout=timeout,
        ca_file=tls_ca.ca_file if ca else None,
        pinned_sha256=pin,
    )


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_send_is_recorded_by_the_server_with_the_authenticated_user(
    smtp: SMTPServer, tls_ca: TLSFiles, security: Security
) -> None:
    with SmtpClient(endpoint(smtp, tls_ca, security)) as client:
        result = client.send("alice@example.org", ["bob@example.org", "carol@example.org"],
                             MESSAGE)
    assert result.accepted == ("bob@example.org", "carol@example.org")
    assert result.code == 250
    (accepted,) = smtp.accepted
    assert accepted.data == MESSAGE
    assert accepted.mail_from == "alice@example.org"
    assert accepted.rcpt_tos == ("bob@example.org", "carol@example.org")
    assert accepted.user == "alice"
    assert accepted.listener == security if security != "none" else accepted.listener == "plain"


def test_quirk_bare_line_feeds_are_sent_as_crlf(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    with SmtpClient(endpoint(smtp, tls_ca)) as client:
        client.send("alice@example.org", ["bob@example.org"], MESSAGE.replace(b"\r\n", b"\n"))
    assert smtp.accepted[0].data == MESSAGE


def test_smtputf8_addresses_are_sent_when_asked(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    raw = "From: zoë@exämple.org\r\nTo: josé@exämple.org\r\n\r\nÇa va ?\r\n".encode()
    with SmtpClient(endpoint(smtp, tls_ca, "tls")) as client:
        client.send("zoë@exämple.org", ["josé@exämple.org"], raw, smtputf8=True)
    (accepted,) = smtp.accepted
    assert accepted.smtputf8
    assert accepted.mail_from == "zoë@exämple.org"
    assert accepted.data == raw


def test_wrong_password_is_an_authentication_failure_without_the_password(
    smtp: SMTPServer, tls_ca: TLSFiles
) -> None:
    with pytest.raises(AuthenticationFailed) as failure:
        SmtpClient(endpoint(smtp, tls_ca, password="S3cret-Wrong")).__enter__()
    assert failure.value.code == 535
    assert failure.value.temporary is False
    assert "S3cret-Wrong" not in str(failure.value)


def test_quirk_auth_is_only_offered_after_starttls(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    # The STARTTLS listener used as if it were plain: no AUTH before STARTTLS.
    ep = endpoint(smtp, tls_ca, "none")
    ep = ServerEndpoint(host=ep.host, port=smtp.starttls_port, security="none",
                        username="alice", password="alice-pw", timeout=10)
    with pytest.raises(MissingCapability) as failure:
        SmtpClient(ep).__enter__()
    assert failure.value.capability == "AUTH"


def test_starttls_asked_but_not_offered_is_a_missing_capability(
    smtp: SMTPServer, tls_ca: TLSFiles
) -> None:
    ep = ServerEndpoint(host="127.0.0.1", port=smtp.plain_port, security="starttls",
                        username="alice", password="alice-pw", timeout=10)
    with pytest.raises(MissingCapability) as failure:
        SmtpClient(ep).connect()
    assert failure.value.capability == "STARTTLS"


def test_quirk_a_4xx_for_every_recipient_is_temporary(smtp: SMTPServer,
                                                      tls_ca: TLSFiles) -> None:
    smtp.fail_next(451, "4.7.1 Greylisted, try again", at="rcpt", count=1)
    with SmtpClient(endpoint(smtp, tls_ca)) as client:
        with pytest.raises(TemporaryServerError) as failure:
            client.send("alice@example.org", ["bob@example.org"], MESSAGE)
        # The session is still usable after the refusal (RSET was sent).
        client.send("alice@example.org", ["bob@example.org"], MESSAGE)
    assert failure.value.code == 451
    assert failure.value.temporary is True
    assert "Greylisted" in str(failure.value)
    assert len(smtp.accepted) == 1


def test_quirk_a_5xx_at_data_is_permanent_with_the_servers_text(
    smtp: SMTPServer, tls_ca: TLSFiles
) -> None:
    smtp.fail_next(554, "5.7.1 Message rejected as spam", at="data", count=1)
    with SmtpClient(endpoint(smtp, tls_ca, "tls")) as client, \
            pytest.raises(PermanentServerError) as failure:
        client.send("alice@example.org", ["bob@example.org"], MESSAGE)
    assert failure.value.code == 554
    assert failure.value.temporary is False
    assert "rejected as spam" in str(failure.value)
    assert smtp.accepted == []


def test_quirk_each_recipient_gets_its_own_answer(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    smtp.fail_next(550, "5.1.1 No such user", at="rcpt", count=1)
    with SmtpClient(endpoint(smtp, tls_ca)) as client:
        result = client.send("alice@example.org", ["nobody@example.org", "bob@example.org"],
                             MESSAGE)
    assert [(r.address, r.accepted, r.code) for r in result.recipients] == [
        ("nobody@example.org", False, 550),
        ("bob@example.org", True, 250),
    ]
    assert smtp.accepted[0].rcpt_tos == ("bob@example.org",)


def test_every_recipient_refused_permanently_is_permanent(smtp: SMTPServer,
                                                          tls_ca: TLSFiles) -> None:
    smtp.fail_next(550, "No such user", at="rcpt", count=None)
    with SmtpClient(endpoint(smtp, tls_ca)) as client, pytest.raises(PermanentServerError):
        client.send("alice@example.org", ["x@example.org", "y@example.org"], MESSAGE)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_certificate_from_an_unknown_authority_is_refused(
    smtp: SMTPServer, tls_ca: TLSFiles, security: Security
) -> None:
    with pytest.raises(CertificateUntrusted):
        SmtpClient(endpoint(smtp, tls_ca, security, ca=False)).connect()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_pinned_certificate_is_accepted_and_a_wrong_pin_refused(
    smtp: SMTPServer, tls_ca: TLSFiles, security: Security
) -> None:
    with SmtpClient(endpoint(smtp, tls_ca, security, ca=False, pin=tls_ca.cert_sha256)) as c:
        c.send("alice@example.org", ["bob@example.org"], MESSAGE)
    with pytest.raises(CertificateUntrusted):
        SmtpClient(endpoint(smtp, tls_ca, security, pin=tls_ca.untrusted_cert_sha256)).connect()
    # Refused before AUTH: the wrong-pin attempt never reached the server's AUTH.
    assert [a[0] for a in smtp.auth_attempts] == ["alice"]


def test_refused_port_is_reported(refused_port: RefusedPort) -> None:
    ep = ServerEndpoint(host="127.0.0.1", port=refused_port.port, security="none", timeout=5)
    with pytest.raises(ConnectionRefused):
        SmtpClient(ep).connect()


def test_a_server_that_never_answers_times_out(blackhole: Blackhole) -> None:
    ep = ServerEndpoint(host="127.0.0.1", port=blackhole.port, security="starttls",
                        timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ConnectTimeout):
        SmtpClient(ep).connect()
    assert time.monotonic() - started < 3
