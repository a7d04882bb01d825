"""POP3 sync when things go wrong: sessions cut before QUIT, a server going away,
bad passwords, refused connections, servers without UIDL."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable, Iterator

import pytest

from accounts.models import MailAccount, User
from bench.generator import generate_mailbox
from tests.servers.blackhole import RefusedPort
from tests.servers.dovecot import DovecotServer
from tests.servers.pop3_minimal import MinimalPop3Server
from tests.sync.pop3_support import message, pop3_account, run_sync, stored_raws
from webmail.mail.models import Message, Pop3Uidl
from webmail.protocols import pop3 as pop3_protocol
from webmail.protocols.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ConnectionRefused,
    ProtocolError,
)
from webmail.protocols.pop3 import Pop3Client
from webmail.sync import pop3 as pop3_sync
from webmail.sync.engine import sync_account
from webmail.sync.pop3 import endpoint_for

pytestmark = pytest.mark.django_db


class CutClient(Pop3Client):
    """A client whose connection drops at a chosen moment, as a network cut would."""

    def __init__(self, account: MailAccount, *, after_retr: int = 0,
                 at_quit: bool = False, on_cut: Callable[[], None] | None = None) -> None:
        super().__init__(endpoint_for(account))
        self.after_retr = after_retr
        self.at_quit = at_quit
        self.on_cut = on_cut or self._drop_socket
        self.retrs = 0

    def _drop_socket(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.sock.shutdown(socket.SHUT_RDWR)

    def retr_many(self, numbers: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        with contextlib.closing(super().retr_many(numbers)) as answers:
            for number, raw in answers:
                self.retrs += 1
                if self.retrs == self.after_retr:
                    self.on_cut()
                yield number, raw

    def quit(self) -> None:
        if self.at_quit:
            self.on_cut()
        super().quit()


def assert_a_prefix_was_stored(account: MailAccount, raws: list[bytes], *, at_least: int,
                               depth: int) -> int:
    """What a cut sync committed: whole batches, in order, none doubled. With RETRs
    pipelined, answers the server sent before the cut may still be read from the buffer,
    so more than `at_least` can be stored; one at a time, exactly that many."""
    stored = stored_raws(account)
    assert stored == raws[:len(stored)]
    assert at_least <= len(stored) < len(raws)
    if depth == 1:
        assert len(stored) == at_least
    return len(stored)


@pytest.mark.parametrize("depth", [1, 16])
def test_a_cut_after_retr_loses_nothing_and_doubles_nothing(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch,
    depth: int,
) -> None:
    monkeypatch.setattr(pop3_protocol, "PIPELINE_DEPTH", depth)
    monkeypatch.setattr(pop3_sync, "BATCH_MESSAGES", 3)  # several commits before the cut
    raws = list(generate_mailbox(40, seed=21))
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="delete")

    with pytest.raises(ConnectionLost):
        run_sync(account, client_factory=lambda a: CutClient(a, after_retr=7))

    # Two batches committed, the third was not (one at a time).
    stored = assert_a_prefix_was_stored(account, raws, at_least=6, depth=depth)
    assert dovecot.messages(dovecot_user) == raws  # no QUIT: nothing deleted upstream

    stats = run_sync(account)

    assert stats.messages_fetched == len(raws) - stored
    assert stored_raws(account) == raws
    assert dovecot.messages(dovecot_user) == []


def test_a_cut_after_dele_and_before_quit_retries_the_deletes(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    raws = [message(f"m{n}") for n in range(4)]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="delete")

    with pytest.raises(ConnectionLost):
        run_sync(account, client_factory=lambda a: CutClient(a, at_quit=True))

    # Every DELE was sent, but without QUIT the server kept the messages.
    assert dovecot.messages(dovecot_user) == raws
    assert stored_raws(account) == raws
    assert not Pop3Uidl.objects.filter(account=account, deleted_upstream_at__isnull=False).exists()

    stats = run_sync(account)

    assert (stats.messages_fetched, stats.messages_deleted_upstream) == (0, 4)
    assert dovecot.messages(dovecot_user) == []
    assert stored_raws(account) == raws


@pytest.mark.parametrize("depth", [1, 16])
def test_the_server_stopping_mid_run_loses_nothing_and_doubles_nothing(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch,
    depth: int,
) -> None:
    monkeypatch.setattr(pop3_protocol, "PIPELINE_DEPTH", depth)
    monkeypatch.setattr(pop3_sync, "BATCH_MESSAGES", 4)
    raws = list(generate_mailbox(40, seed=4))
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="delete")

    def server_goes_away() -> None:
        # stop() alone leaves running sessions alive (their processes outlive the
        # master): end this user's sessions first, as a crash or restart would.
        dovecot.doveadm("kick", dovecot_user)
        dovecot.stop()

    try:
        with pytest.raises(ProtocolError) as caught:
            run_sync(account, client_factory=lambda a: CutClient(
                a, after_retr=6, on_cut=server_goes_away))
    finally:
        dovecot.start()

    assert caught.value.temporary  # Dovecot says "[SYS/TEMP] Server shutting down."

    assert_a_prefix_was_stored(account, raws, at_least=4, depth=depth)
    run_sync(account)
    assert stored_raws(account) == raws
    assert dovecot.messages(dovecot_user) == []


def test_a_wrong_password_shows_a_clear_error_on_the_account(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    account = pop3_account(alice, dovecot, password="not-the-password")

    with pytest.raises(AuthenticationFailed):
        sync_account(account.pk)

    account.refresh_from_db()
    assert account.sync_status == "error"
    assert "refused the username or password" in account.last_error
    assert "not-the-password" not in account.last_error


def test_a_refused_connection_shows_a_clear_error_on_the_account(
    alice: User, dovecot: DovecotServer, refused_port: RefusedPort
) -> None:
    account = pop3_account(alice, dovecot, incoming_port=refused_port.port)

    with pytest.raises(ConnectionRefused) as caught:
        sync_account(account.pk)

    account.refresh_from_db()
    assert caught.value.temporary
    assert account.sync_status == "error"
    assert "refused the connection" in account.last_error


def test_an_error_is_cleared_by_the_next_good_sync(
    alice: User, dovecot: DovecotServer, dovecot_user: str
) -> None:
    account = pop3_account(alice, dovecot, password="wrong")
    with pytest.raises(AuthenticationFailed):
        sync_account(account.pk)
    account.set_incoming_password(dovecot.users["alice"])
    account.save()

    sync_account(account.pk)

    account.refresh_from_db()
    assert (account.sync_status, account.last_error) == ("ok", "")


def test_a_server_without_uidl_is_fetched_once_and_said_so(alice: User, dovecot: DovecotServer,
                                                           ) -> None:
    raws = [message("first"), message("second"), message("third")]
    server = MinimalPop3Server(messages=list(raws))
    server.start()
    try:
        account = pop3_account(alice, dovecot, incoming_port=server.port)
        first = run_sync(account)
        second = run_sync(account)  # the server has added Status: headers meanwhile
    finally:
        server.stop()

    assert (first.messages_fetched, second.messages_fetched) == (3, 0)
    assert stored_raws(account) == raws
    assert any("does not support UIDL" in note for note in first.notes)
    assert Pop3Uidl.objects.filter(account=account, synthetic=True).count() == 3
    assert Message.objects.filter(account=account).count() == 3


def test_a_server_without_uidl_with_delete_policy_is_emptied(alice: User,
                                                            dovecot: DovecotServer) -> None:
    raws = [message("first"), message("second")]
    server = MinimalPop3Server(messages=list(raws))
    server.start()
    try:
        account = pop3_account(alice, dovecot, incoming_port=server.port, pop3_policy="delete")
        stats = run_sync(account)
    finally:
        server.stop()

    assert stats.messages_deleted_upstream == 2
    assert server.messages == []
    assert stored_raws(account) == raws


def test_a_sync_that_loses_its_lease_stops_reads_what_it_asked_for_and_quits(
    alice: User, dovecot: DovecotServer, dovecot_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pop3_sync, "BATCH_MESSAGES", 3)
    raws = [message(f"m{n}", "line\r\n" * 200) for n in range(40)]
    dovecot.deliver_many(dovecot_user, raws)
    account = pop3_account(alice, dovecot, pop3_policy="delete")
    renewals = iter([True, True, False])  # taken over before the third batch is stored
    monkeypatch.setattr(pop3_sync.lease, "renew", lambda *args: next(renewals, False))

    # RETRs were pipelined past the stop: their answers are read, so QUIT is understood.
    stats = run_sync(account)

    assert "Another sync took over this account; deletes skipped." in stats.notes
    assert stored_raws(account) == raws[:6]
    assert dovecot.messages(dovecot_user) == raws
