"""The POP3 client against the real Dovecot fixture (and a minimal server for quirks)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.dovecot import DovecotServer
from tests.servers.pop3_minimal import MinimalPop3Server
from tests.servers.tls import TLSFiles
from webmail.protocols.errors import (
    AuthenticationFailed,
    CertificateUntrusted,
    ConnectionRefused,
    ConnectTimeout,
    MissingCapability,
    PermanentServerError,
    ProtocolViolation,
)
from webmail.protocols.pop3 import Pop3Client, header_identity
from webmail.protocols.tls import Security, ServerEndpoint


def make_message(subject: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\n"
        b"Message-ID: <" + subject.encode() + b"@example.org>\r\n"
        b"Subject: " + subject.encode() + b"\r\n\r\n" + body
    )


def endpoint(dovecot: DovecotServer, tls_ca: TLSFiles, security: Security = "none", *,
             password: str | None = None, ca: bool = True, pin: str = "") -> ServerEndpoint:
    port = {"none": dovecot.ports.pop3, "starttls": dovecot.ports.pop3,
            "tls": dovecot.ports.pop3s}[security]
    return ServerEndpoint(
        host="127.0.0.1", port=port, security=security, username="alice",
        password=dovecot.users["alice"] if password is None else password, timeout=10,
        ca_file=tls_ca.ca_file if ca else None, pinned_sha256=pin,
    )


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_login_and_retrieve_every_message_byte_for_byte(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles, security: Security
) -> None:
    raws = [make_message("one"), make_message("two")]
    dovecot.deliver_many(dovecot_user, raws)
    with Pop3Client(endpoint(dovecot, tls_ca, security)) as client:
        stat = client.stat()
        uids = client.uidl()
        listing = client.list_messages()
        got = [client.retr(entry.number) for entry in uids.entries]
    assert stat.count == 2
    assert [item.size for item in listing] == [len(r) for r in raws]
    assert not uids.synthetic
    assert len({entry.uid for entry in uids.entries}) == 2
    assert got == raws


def test_top_returns_the_headers_and_the_blank_line(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    raw = make_message("top", b"line 1\r\nline 2\r\n")
    dovecot.deliver(dovecot_user, raw)
    with Pop3Client(endpoint(dovecot, tls_ca)) as client:
        headers = client.top(1, 0)
        one_line = client.top(1, 1)
    assert headers == raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert one_line.endswith(b"\r\n\r\nline 1\r\n")


def test_wrong_password_is_an_authentication_failure_without_the_password(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    client = Pop3Client(endpoint(dovecot, tls_ca, "tls", password="Wr0ng-Secret"))
    with pytest.raises(AuthenticationFailed) as failure, client:
        pass
    assert failure.value.temporary is False
    assert "alice" in str(failure.value)
    assert "Wr0ng-Secret" not in str(failure.value)


def test_apop_login_works_when_the_server_offers_it(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    dovecot.deliver(dovecot_user, make_message("apop"))
    with Pop3Client(endpoint(dovecot, tls_ca), use_apop=True) as client:
        assert client.stat().count == 1


def test_capabilities_list_uidl_and_stls(dovecot: DovecotServer, tls_ca: TLSFiles) -> None:
    client = Pop3Client(endpoint(dovecot, tls_ca))
    client.connect()
    try:
        assert {"UIDL", "TOP", "STLS"} <= client.capabilities()
    finally:
        client.close()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_certificate_from_an_unknown_authority_is_refused(
    dovecot: DovecotServer, tls_ca: TLSFiles, security: Security
) -> None:
    with pytest.raises(CertificateUntrusted) as failure:
        Pop3Client(endpoint(dovecot, tls_ca, security, ca=False)).connect()
    assert failure.value.temporary is False
    assert "not trusted" in str(failure.value)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_pinned_certificate_is_accepted_without_trusting_its_authority(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles, security: Security
) -> None:
    ep = endpoint(dovecot, tls_ca, security, ca=False, pin=tls_ca.cert_sha256.upper())
    with Pop3Client(ep) as client:
        assert client.stat().count == 0


def test_a_wrong_pin_is_refused_even_with_a_trusted_authority(
    dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    ep = endpoint(dovecot, tls_ca, "tls", pin=tls_ca.untrusted_cert_sha256)
    with pytest.raises(CertificateUntrusted) as failure:
        Pop3Client(ep).connect()
    assert "fingerprint" in str(failure.value)


def test_quirk_lines_longer_than_poplib_maxline_are_retrieved(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    long_line = b"<p>" + b"x" * 100_000 + b"</p>\r\n"
    raw = make_message("long", long_line + b"short\r\n")
    dovecot.deliver(dovecot_user, raw)
    with Pop3Client(endpoint(dovecot, tls_ca)) as client:
        assert client.retr(1) == raw


def test_a_message_beyond_our_own_limit_is_a_protocol_violation(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    dovecot.deliver(dovecot_user, make_message("long", b"y" * 3000 + b"\r\n"))
    client = Pop3Client(endpoint(dovecot, tls_ca), max_message=2048)
    with pytest.raises(ProtocolViolation) as failure, client:
        client.retr(1)
    assert "larger than 2048 bytes" in str(failure.value)


def test_quirk_dot_stuffed_lines_come_back_as_stored(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    raw = make_message("dots", b".\r\n..two dots\r\n.leading\r\nend\r\n")
    dovecot.deliver(dovecot_user, raw)
    with Pop3Client(endpoint(dovecot, tls_ca)) as client:
        assert client.retr(1) == raw


def test_quirk_dele_is_final_only_at_quit(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("a"), make_message("b")])
    with pytest.raises(RuntimeError), Pop3Client(endpoint(dovecot, tls_ca)) as client:
        client.dele(1)
        raise RuntimeError("cut before QUIT")
    assert len(dovecot.messages(dovecot_user)) == 2
    with Pop3Client(endpoint(dovecot, tls_ca)) as client:
        client.dele(1)
    assert dovecot.messages(dovecot_user) == [make_message("b")]


@pytest.mark.parametrize("security", ["none", "tls"])
def test_retr_many_pipelines_and_returns_every_message_as_stored(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles, security: Security
) -> None:
    raws = [make_message(f"m{i}", b".dot\r\n" + b"z" * (i * 7919) + b"\r\n..\r\n")
            for i in range(40)]
    dovecot.deliver_many(dovecot_user, raws)
    with Pop3Client(endpoint(dovecot, tls_ca, security)) as client:
        assert "PIPELINING" in client.capabilities()
        got = list(client.retr_many(range(1, 41)))
    assert [number for number, _ in got] == list(range(1, 41))
    assert [raw for _, raw in got] == raws


def test_stopping_retr_many_early_leaves_the_session_usable(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{i}") for i in range(30)])
    with Pop3Client(endpoint(dovecot, tls_ca)) as client:
        answers = client.retr_many(range(1, 31))
        first = [next(answers) for _ in range(3)]
        answers.close()  # 16 RETRs were asked for; their answers are read and dropped
        assert client.retr(30) == make_message("m29")
        client.dele(1)
    assert first[2] == (3, make_message("m2"))
    assert len(dovecot.messages(dovecot_user)) == 29


def test_a_missing_message_in_retr_many_ends_the_session_without_deleting(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{i}") for i in range(3)])
    got = []
    with pytest.raises(PermanentServerError), \
            Pop3Client(endpoint(dovecot, tls_ca)) as client:
        client.dele(3)
        for number, _raw in client.retr_many([1, 2, 9, 3]):
            got.append(number)
    assert got == [1, 2]
    assert len(dovecot.messages(dovecot_user)) == 3  # closed without QUIT: DELE undone


def test_retrieving_a_message_that_does_not_exist_is_a_permanent_error(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    with Pop3Client(endpoint(dovecot, tls_ca)) as client, pytest.raises(PermanentServerError):
        client.retr(7)


def test_refused_port_is_reported(refused_port: RefusedPort) -> None:
    ep = ServerEndpoint(host="127.0.0.1", port=refused_port.port, security="none", timeout=5)
    with pytest.raises(ConnectionRefused) as failure:
        Pop3Client(ep).connect()
    assert failure.value.temporary is True


def test_a_server_that_never_answers_times_out(blackhole: Blackhole) -> None:
    ep = ServerEndpoint(host="127.0.0.1", port=blackhole.port, security="tls", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ConnectTimeout):
        Pop3Client(ep).connect()
    assert time.monotonic() - started < 3


@pytest.fixture
def minimal_pop3() -> Iterator[MinimalPop3Server]:
    server = MinimalPop3Server(messages=[make_message("m1"), make_message("m2"),
                                         make_message("m1")])
    server.start()
    yield server
    server.stop()


def minimal_endpoint(server: MinimalPop3Server, security: Security = "none") -> ServerEndpoint:
    return ServerEndpoint(host=server.host, port=server.port, security=security,
                          username="alice", password="alice-pw", timeout=5)


def test_quirk_server_without_uidl_gets_stable_header_hash_ids(
    minimal_pop3: MinimalPop3Server,
) -> None:
    with Pop3Client(minimal_endpoint(minimal_pop3)) as client:
        first = client.uidl()
        client.retr(1)  # the server now adds "Status: RO" to message 1
    with Pop3Client(minimal_endpoint(minimal_pop3)) as client:
        second = client.uidl()
    assert first.synthetic and second.synthetic
    assert first == second
    assert len({entry.uid for entry in first.entries}) == 3  # the twin gets a suffix
    assert minimal_pop3.messages[0].startswith(b"Status: RO\r\n")


def test_quirk_status_headers_do_not_change_the_identity() -> None:
    headers = b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\n"
    assert header_identity(b"Status: RO\r\nX-UIDL: 12\r\n" + headers) == header_identity(headers)
    assert header_identity(b"Subject: y\r\n\r\n") != header_identity(headers)


def test_quirk_server_without_capa_has_no_capabilities_and_no_stls(
    minimal_pop3: MinimalPop3Server,
) -> None:
    client = Pop3Client(minimal_endpoint(minimal_pop3))
    client.connect()
    assert client.capabilities() == frozenset()
    client.close()
    with pytest.raises(MissingCapability) as failure:
        Pop3Client(minimal_endpoint(minimal_pop3, "starttls")).connect()
    assert failure.value.capability == "STLS"


def test_retr_many_without_pipelining_asks_one_at_a_time(
    minimal_pop3: MinimalPop3Server,
) -> None:
    with Pop3Client(minimal_endpoint(minimal_pop3)) as client:
        got = [raw for _, raw in client.retr_many([3, 2])]
    assert got == [make_message("m1"), make_message("m2")]


def test_server_without_uidl_and_top_is_refused_clearly(
    minimal_pop3: MinimalPop3Server,
) -> None:
    minimal_pop3.supports_top = False
    with Pop3Client(minimal_endpoint(minimal_pop3)) as client, pytest.raises(MissingCapability):
        client.uidl()


def test_apop_on_a_server_without_it_is_a_missing_capability(
    minimal_pop3: MinimalPop3Server,
) -> None:
    with pytest.raises(MissingCapability):
        Pop3Client(minimal_endpoint(minimal_pop3), use_apop=True).__enter__()
