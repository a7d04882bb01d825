"""One test per server quirk listed at the top of webmail/protocols/imap.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.protocols.test_imap import imap_endpoint, make_message
from tests.servers.dovecot import DovecotServer
from tests.servers.tls import TLSFiles
from webmail.protocols.errors import ConnectionLost, MissingCapability
from webmail.protocols.imap import ImapClient
from webmail.protocols.imap_types import (
    RemoteFolder,
    assign_roles,
    parse_copyuid,
    parse_uid_set,
    parse_vanished,
    uid_set,
)


@pytest.fixture
def client(dovecot_user: str, dovecot: DovecotServer, tls_ca: TLSFiles) -> Iterator[ImapClient]:
    imap = ImapClient.connect(imap_endpoint(dovecot, tls_ca))
    yield imap
    imap.logout()


def test_quirk1_qresync_select_returns_vanished_and_changed_flags(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str, tls_ca: TLSFiles
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}") for n in range(5)])
    before = client.select("INBOX")
    assert before.highestmodseq is not None
    other = ImapClient.connect(imap_endpoint(dovecot, tls_ca))
    other.select("INBOX")
    other.set_flags([2], add=["\\Seen"])
    other.set_flags([3, 4], add=["\\Deleted"])
    other.expunge([3, 4])
    other.logout()

    after = client.select("INBOX", qresync=(before.uidvalidity, before.highestmodseq))
    assert after.vanished == (3, 4)
    assert [(r.uid, r.flags) for r in after.changed] == [(2, frozenset({"\\Seen"}))]
    assert after.highestmodseq is not None and after.highestmodseq > before.highestmodseq

    unchanged = client.select("INBOX", qresync=(after.uidvalidity, after.highestmodseq))
    assert unchanged.vanished == ()
    assert unchanged.changed == ()


def test_quirk1_qresync_with_a_stale_uidvalidity_reports_nothing_vanished(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver(dovecot_user, make_message("m"))
    info = client.select("INBOX", qresync=(1, 1))
    assert info.uidvalidity != 1
    assert info.vanished == ()


def test_quirk2_expunges_during_idle_arrive_as_vanished_and_map_to_expunge(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str, tls_ca: TLSFiles
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("a"), make_message("b")])
    assert client.qresync
    client.select("INBOX")
    client.idle_start()
    other = ImapClient.connect(imap_endpoint(dovecot, tls_ca))
    other.select("INBOX")
    other.set_flags([1], add=["\\Deleted"])
    other.expunge([1])
    other.logout()
    events = []
    for _ in range(5):
        events += client.idle_check(1)
        if any(e.kind == "expunge" for e in events):
            break
    client.idle_done()
    assert any(e.kind == "expunge" for e in events)


def test_quirk3_fetch_streams_and_a_dropped_connection_is_connection_lost(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}", b"z" * 20_000) for n in range(200)])
    client.select("INBOX")
    stream = client.fetch_messages(client.search_uids())
    first_uid, _ = next(stream)  # the first message is ours before the command completes
    assert first_uid == 1
    client._c.socket().shutdown(socket.SHUT_RDWR)
    with pytest.raises(ConnectionLost) as info:
        list(stream)
    assert info.value.temporary


def test_quirk4_copyuid_is_read_from_tagged_and_untagged_codes(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message(f"m{n}") for n in range(4)])
    client.select("INBOX")
    assert client.copy([1, 2], "Trash") == {1: 1, 2: 2}  # tagged OK [COPYUID]
    assert client.move([3, 4], "Trash") == {3: 3, 4: 4}  # untagged * OK [COPYUID]
    assert parse_copyuid(b"1234 3:5,9 10:13") == {3: 10, 4: 11, 5: 12, 9: 13}


def test_quirk5_recent_is_never_reported(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver(dovecot_user, make_message("fresh"))
    client.select("INBOX")  # the first session after delivery gets \Recent
    assert next(client.fetch_headers([1])).flags == frozenset()
    assert client.fetch_flags()[0].flags == frozenset()


def test_quirk6_expunge_without_uidplus_is_refused(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("a"), make_message("b")])
    client.capabilities = client.capabilities - {"UIDPLUS", "MOVE"}
    client.select("INBOX")
    client.set_flags([1], add=["\\Deleted"])
    with pytest.raises(MissingCapability):
        client.expunge([1])
    client.move([2], "Trash")  # copy + \Deleted, but no blanket EXPUNGE
    assert client.search_uids() == [1, 2]
    assert client.search_uids("DELETED") == [1, 2]


def test_quirk7_remote_names_are_the_wire_form(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.create_folder(dovecot_user, "Ämter & Behörden")
    folder = next(f for f in client.list_folders() if f.name == "Ämter & Behörden")
    assert folder.remote_name == "&AMQ-mter &- Beh&APY-rden"
    client.select(folder.remote_name)


def test_quirk8_uid_range_beyond_the_last_uid_still_matches_the_last_message(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("a"), make_message("b")])
    client.select("INBOX")
    assert client.search_uids("UID 10:*") == [2]


def test_quirk9_list_status_reports_each_folders_state_without_select(
    client: ImapClient, dovecot: DovecotServer, dovecot_user: str
) -> None:
    dovecot.deliver_many(dovecot_user, [make_message("a"), make_message("b")])
    dovecot.create_folder(dovecot_user, "Ämter")
    folders = {f.name: f for f in client.list_folders()}
    inbox = folders["INBOX"].status
    selected = client.select("INBOX", readonly=True)
    assert inbox is not None
    assert (inbox.uidvalidity, inbox.uidnext, inbox.highestmodseq, inbox.messages) == (
        selected.uidvalidity, selected.uidnext, selected.highestmodseq, 2)
    assert folders["Ämter"].status is not None


def test_well_known_names_give_roles_when_special_use_is_missing() -> None:
    folders = [
        RemoteFolder("INBOX", "INBOX", ".", "inbox", True),
        RemoteFolder("INBOX.Sent Items", "INBOX.Sent Items", ".", "", True),
        RemoteFolder("INBOX.Sent", "INBOX.Sent", ".", "", True),
        RemoteFolder("Deleted Items", "Deleted Items", ".", "", True),
        RemoteFolder("Spam", "Spam", ".", "", True),
        RemoteFolder("Projects.Trash", "Projects.Trash", ".", "", True),
    ]
    roles = {f.name: f.role for f in assign_roles(folders)}
    assert roles == {"INBOX": "inbox", "INBOX.Sent Items": "", "INBOX.Sent": "sent",
                     "Deleted Items": "trash", "Spam": "junk", "Projects.Trash": ""}


def test_uid_sets_round_trip() -> None:
    assert uid_set([9, 1, 2, 3, 7, 10]) == "1:3,7,9:10"
    assert parse_uid_set("1:3,7,10:9") == [1, 2, 3, 7, 9, 10]
    assert parse_vanished(b"(EARLIER) 4:5,8") == [4, 5, 8]
    assert parse_vanished(b"6") == [6]
