"""The test servers themselves work as the other tests assume."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import time

import pytest

from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


def test_dovecot_imaps_certificate_verifies_with_the_test_ca(
    running_dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    ctx = ssl.create_default_context(cafile=tls_ca.ca_file)
    conn = imaplib.IMAP4_SSL("127.0.0.1", running_dovecot.ports.imaps, ssl_context=ctx)
    caps = conn.capabilities
    conn.logout()
    assert "IMAP4REV1" in caps


def test_dovecot_imaps_certificate_is_refused_without_the_test_ca(
    running_dovecot: DovecotServer,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(
            "127.0.0.1", running_dovecot.ports.imaps, ssl_context=ssl.create_default_context()
        )


def test_dovecot_offers_the_extensions_sync_relies_on(running_dovecot: DovecotServer) -> None:
    with running_dovecot.imap("alice") as conn:
        typ, data = conn.capability()
    caps = set((data[0] or b"").decode().upper().split())
    assert {"CONDSTORE", "QRESYNC", "IDLE", "MOVE", "SPECIAL-USE", "QUOTA"} <= caps


def test_delivered_messages_are_read_back_byte_for_byte_with_flags(dovecot_user: str,
                                                                    dovecot: DovecotServer
                                                                    ) -> None:
    dovecot.deliver(dovecot_user, MESSAGE, flags=["\\Seen", "\\Flagged"])
    dovecot.deliver(dovecot_user, MESSAGE.replace(b"hi", b"two"), folder="Données/Été")
    assert dovecot.messages(dovecot_user) == [MESSAGE]
    assert dovecot.flags(dovecot_user) == [{"\\Seen", "\\Flagged"}]
    assert "Données/Été" in dovecot.folders(dovecot_user)
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= set(dovecot.folders(dovecot_user))
    dovecot.reset_user(dovecot_user)
    assert dovecot.messages(dovecot_user) == []


def test_deliver_many_puts_a_thousand_messages_quickly_in_order(
    dovecot_user: str, dovecot: DovecotServer
) -> None:
    raws = [MESSAGE.replace(b"hi", b"m%d" % i) for i in range(1000)]
    started = time.monotonic()
    count = dovecot.deliver_many(dovecot_user, iter(raws), folder="Archive/2024",
                                 flags=["\\Seen", "\\Answered"])
    assert count == 1000
    assert time.monotonic() - started < 10
    assert dovecot.messages(dovecot_user, "Archive/2024") == raws
    assert dovecot.flags(dovecot_user, "Archive/2024")[0] == {"\\Seen", "\\Answered"}


def test_deliver_many_with_keywords_goes_through_append(
    dovecot_user: str, dovecot: DovecotServer
) -> None:
    dovecot.deliver_many(dovecot_user, [MESSAGE, MESSAGE], flags=["$Important"])
    assert dovecot.flags(dovecot_user) == [{"$Important"}, {"$Important"}]


def test_pop3_sees_the_inbox_and_uidl_format(dovecot_user: str, dovecot: DovecotServer) -> None:
    dovecot.deliver(dovecot_user, MESSAGE)
    pop = poplib.POP3("127.0.0.1", dovecot.ports.pop3, timeout=10)
    pop.user(dovecot_user)
    pop.pass_(dovecot.users[dovecot_user])
    resp, listing, _ = pop.uidl()
    pop.quit()
    assert len(listing) == 1
    assert len(listing[0].split()[1]) == 16  # %08Xu%08Xv


def test_dovecot_stops_and_starts_again_on_the_same_ports_with_the_same_mail(
    dovecot_user: str, dovecot: DovecotServer
) -> None:
    dovecot.deliver(dovecot_user, MESSAGE)
    ports = dovecot.ports.all()
    dovecot.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", dovecot.ports.imap), timeout=1)
    dovecot.start()
    assert dovecot.ports.all() == ports
    assert dovecot.messages(dovecot_user) == [MESSAGE]


def test_smtp_starttls_with_auth_records_the_transaction(smtp: SMTPServer,
                                                         tls_ca: TLSFiles) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.starttls_port, timeout=10) as client:
        client.starttls(context=tls_ca.client_context())
        client.login("alice", "alice-pw")
        client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
    (accepted,) = smtp.accepted
    assert accepted.mail_from == "alice@example.org"
    assert accepted.rcpt_tos == ("bob@example.org",)
    assert accepted.data == MESSAGE
    assert accepted.user == "alice"
    assert accepted.listener == "starttls"


def test_smtp_refuses_mail_before_starttls(smtp: SMTPServer) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.starttls_port, timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("alice@example.org")
    assert code == 530


def test_smtp_implicit_tls_with_auth_login(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    with smtplib.SMTP_SSL(
        "127.0.0.1", smtp.tls_port, timeout=10, context=tls_ca.client_context()
    ) as client:
        client.ehlo()
        client.user, client.password = "bob", "bob-pw"
        code, _ = client.auth("LOGIN", client.auth_login)
        assert code == 235
        client.sendmail("bob@example.org", ["alice@example.org"], MESSAGE)
    assert [a.user for a in smtp.accepted] == ["bob"]
    assert smtp.accepted[0].listener == "tls"


def test_smtp_wrong_password_is_refused(smtp: SMTPServer, tls_ca: TLSFiles) -> None:
    with smtplib.SMTP_SSL(
        "127.0.0.1", smtp.tls_port, timeout=10, context=tls_ca.client_context()
    ) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login("alice", "nope")


def test_smtp_answers_the_chosen_failure_the_chosen_number_of_times(
    smtp: SMTPServer, tls_ca: TLSFiles
) -> None:
    smtp.fail_next(451, "Greylisted", at="rcpt", count=1)
    smtp.fail_next(554, "No thanks", at="data", count=1)
    with smtplib.SMTP("127.0.0.1", smtp.plain_port, timeout=10) as client:
        client.login("alice", "alice-pw")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
        assert refused.value.recipients["bob@example.org"][0] == 451
        with pytest.raises(smtplib.SMTPDataError) as data_error:
            client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
        assert data_error.value.smtp_code == 554
        client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
    assert len(smtp.accepted) == 1


def test_blackhole_accepts_and_never_answers(blackhole: Blackhole) -> None:
    with socket.create_connection((blackhole.host, blackhole.port), timeout=1) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)


def test_refused_port_refuses(refused_port: RefusedPort) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((refused_port.host, refused_port.port), timeout=1)
