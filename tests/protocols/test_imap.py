"""The IMAP client against the real Dovecot fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.dovecot import DovecotServer, encode_utf7
from tests.servers.tls import TLSFiles
from webmail.protocols.errors import (
    AuthenticationFailed,
    CertificateUntrusted,
    ConnectionRefused,
    ConnectTimeout,
    PermanentServerError,
)
from webmail.protocols.imap import IdleEvent, ImapClient, Quota
from webmail.protocols.tls import Security, ServerEndpoint


def make_message(subject: str, body: bytes = b"Hello.\r\n", *, extra: bytes = b"") -> bytes:
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.org\r\n"
        b"Message-ID: <" + subject.encode("utf-8").replace(b" ", b".") + b"@example.org>\r\n"
        b"Subject: " + subject.encode("utf-8") + b"\r\n" + extra + b"\r\n" + body
    )


def imap_endpoint(dovecot: DovecotServer, tls_ca: TLSFiles, security: Security = "none", *,
                  user: str = "alice", password: str | None = None) -> ServerEndpoint:
    port = dovecot.ports.imaps if security == "tls" else dovecot.ports.imap
    return ServerEndpoint(
        host="127.0.0.1", port=port, security=security, username=user,
        password=dovecot.users[user] if password is None else password, timeout=10,
        ca_file=tls_ca.ca_file,
    )


@pytest.fixture
def client(dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles) -> Iterator[ImapClient]:
    imap = ImapClient.connect(imap_endpoint(dovecot, tls_ca))
    yield imap
    imap.logout()


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_connects_with_each_security_and_enables_qresync(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles, security: Security
) -> None:
    imap = ImapClient.connect(imap_endpoint(dovecot, tls_ca, security))
    try:
        assert imap.has("IMAP4rev1")
        assert imap.has("idle")
        assert {"CONDSTORE", "QRESYNC"} <= imap.enabled
    finally:
        imap.logout()


def test_wrong_password_is_a_permanent_authentication_failure(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        ImapClient.connect(imap_endpoint(dovecot, tls_ca, password="wrong"))
    assert not info.value.temporary
    assert "wrong" not in str(info.value)


def test_a_certificate_from_an_unknown_authority_is_refused(
    dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles
) -> None:
    endpoint = ServerEndpoint("127.0.0.1", dovecot.ports.imaps, "tls", "alice", "alice-pw",
                              timeout=5)
    with pytest.raises(CertificateUntrusted):
        ImapClient.connect(endpoint)


def test_a_server_that_never_answers_times_out(blackhole: Blackhole) -> None:
    endpoint = ServerEndpoint(blackhole.host, blackhole.port, "none", "a", "b", timeout=0.5)
    with pytest.raises(ConnectTimeout) as info:
        ImapClient.connect(endpoint)
    assert info.value.temporary


def test_a_closed_port_is_refused(refused_port: RefusedPort) -> None:
    endpoint = ServerEndpoint(refused_port.host, refused_port.port, "none", "a", "b", timeout=2)
    with pytest.raises(ConnectionRefused):
        ImapClient.connect(endpoint)


def test_folder_list_has_roles_and_decoded_non_ascii_names(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.create_folder(dovecot_user, "Pläne/Übersicht")
    folders = {f.name: f for f in client.list_folders()}
    assert folders["INBOX"].role == "inbox"
    assert {folders[n].role for n in ("Sent", "Drafts", "Trash", "Junk", "Archive")} == {
        "sent", "drafts", "trash", "junk", "archive"}
    nested = folders["Pläne/Übersicht"]
    assert nested.remote_name == encode_utf7("Pläne/Übersicht")
    assert nested.delimiter == "/"
    assert nested.selectable
    assert client.encode_name("Pläne/Übersicht") == nested.remote_name


def test_select_reports_uidvalidity_uidnext_and_highestmodseq(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("one"), make_message("two")])
    info = client.select("INBOX", readonly=True)
    assert info.exists == 2
    assert info.uidnext == 3
    assert info.uidvalidity > 0
    assert info.highestmodseq is not None and info.highestmodseq > 0


def test_headers_and_whole_messages_come_back_byte_for_byte(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = [make_message(f"message {n}", b"x" * (n * 1000) + b"\r\n") for n in range(5)]
    dovecot.deliver_many(dovecot_user, raws, flags=["\\Seen"])
    client.select("INBOX")
    uids = client.search_uids()
    headers = list(client.fetch_headers(list(reversed(uids))))
    assert sorted(h.uid for h in headers) == uids
    first = next(h for h in headers if h.uid == uids[0])
    assert first.header_bytes == raws[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert first.size == len(raws[0])
    assert first.flags == frozenset({"\\Seen"})
    assert first.modseq is not None
    assert first.internal_date is not None and first.internal_date.tzinfo is not None
    bodies = dict(client.fetch_messages(uids))
    assert [bodies[u] for u in uids] == raws


def test_messages_above_the_huge_limit_are_fetched_in_chunks(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import webmail.protocols.imap as imap_module

    raw = make_message("big", (b"0123456789abcdef" * 64 + b"\r\n") * 300)
    dovecot.deliver(dovecot_user, raw)
    monkeypatch.setattr(imap_module, "HUGE_MESSAGE", 10_000)
    monkeypatch.setattr(imap_module, "CHUNK", 7_000)
    client.select("INBOX")
    assert dict(client.fetch_messages(client.search_uids())) == {1: raw}


def test_flags_are_set_and_read_back_with_changedsince(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("one"), make_message("two")])
    info = client.select("INBOX")
    assert info.highestmodseq is not None
    client.set_flags([2], add=["\\Seen", "\\Flagged", "$Label1"])
    client.set_flags([2], remove=["\\Flagged"])
    changed = client.fetch_flags(changedsince=info.highestmodseq)
    assert [(r.uid, r.flags) for r in changed] == [(2, frozenset({"\\Seen", "$Label1"}))]
    assert [r.uid for r in client.fetch_flags()] == [1, 2]
    assert dovecot.flags(dovecot_user) == [set(), {"\\Seen", "$Label1"}]


def test_move_and_copy_report_the_new_uids(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}") for n in range(3)])
    client.select("INBOX")
    assert client.copy([1, 2], "Archive") == {1: 1, 2: 2}
    assert client.move([3], "Archive") == {3: 3}
    assert client.search_uids() == [1, 2]
    assert len(dovecot.messages(dovecot_user, "Archive")) == 3


def test_move_without_the_move_extension_copies_and_expunges_only_those(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}") for n in range(3)])
    client.capabilities = client.capabilities - {"MOVE"}
    client.select("INBOX")
    client.set_flags([1], add=["\\Deleted"])  # someone else's pending delete
    assert client.move([2], "Trash") == {2: 1}
    assert client.search_uids() == [1, 3]


def test_expunge_removes_only_the_given_uids(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}") for n in range(3)])
    client.select("INBOX")
    client.set_flags([1, 2], add=["\\Deleted"])
    client.expunge([2])
    assert client.search_uids() == [1, 3]


def test_append_returns_the_new_uid(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raw = make_message("appended")
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    result = client.append("Drafts", raw, flags=["\\Draft", "\\Seen"], date=when)
    info = client.select("Drafts")
    assert result == (info.uidvalidity, 1)
    assert dovecot.messages(dovecot_user, "Drafts") == [raw]
    assert dovecot.flags(dovecot_user, "Drafts") == [{"\\Draft", "\\Seen"}]
    header = next(client.fetch_headers([1]))
    assert header.internal_date == when


def test_folders_are_created_renamed_and_deleted(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    client.create_folder(client.encode_name("Reisen/Ägypten"))
    client.rename_folder(client.encode_name("Reisen/Ägypten"), client.encode_name("Reisen/Kairo"))
    assert "Reisen/Kairo" in dovecot.folders(dovecot_user)
    assert "Reisen/Ägypten" not in dovecot.folders(dovecot_user)
    client.select(client.encode_name("Reisen/Kairo"))
    client.delete_folder(client.encode_name("Reisen/Kairo"))
    assert "Reisen/Kairo" not in dovecot.folders(dovecot_user)


def test_selecting_a_missing_folder_is_a_permanent_error(client: ImapClient) -> None:
    with pytest.raises(PermanentServerError):
        client.select("Does-Not-Exist")


def test_quota_is_reported_in_bytes(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver(dovecot_user, make_message("q", b"y" * 50_000))
    quota = client.quota()
    assert quota == Quota(used_bytes=quota.used_bytes if quota else 0,
                          limit_bytes=100 * 1024 * 1024)
    assert quota is not None and quota.used_bytes >= 50_000


def test_idle_reports_new_mail_and_expunges(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str, tls_ca: TLSFiles
) -> None:
    dovecot.deliver(dovecot_user, make_message("first"))
    client.select("INBOX")
    client.idle_start()
    dovecot.deliver(dovecot_user, make_message("second"))
    events = client.idle_check(5)
    client.idle_done()
    assert IdleEvent("exists", 2) in events

    other = ImapClient.connect(imap_endpoint(dovecot, tls_ca))
    other.select("INBOX")
    client.idle_start()
    other.set_flags([1], add=["\\Deleted"])
    other.expunge([1])
    other.logout()
    kinds: set[str] = set()
    for _ in range(5):
        kinds |= {e.kind for e in client.idle_check(1)}
        if "expunge" in kinds:
            break
    client.idle_done()
    assert "expunge" in kinds
