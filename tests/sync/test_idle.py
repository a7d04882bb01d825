"""Push through IMAP IDLE against the real Dovecot: latency, leases, takeover, reconnect."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from accounts.models import MailAccount
from tests.conftest import make_account, make_user
from tests.servers.dovecot import DovecotServer
from tests.sync.test_operations import client_factory_for, raw_message
from webmail.mail.models import IdleLease, IdleSupervisor
from webmail.sync.idle import IdleSettings, Supervisor, reconnect_delay

pytestmark = pytest.mark.django_db

FAST = IdleSettings(lease_seconds=1.5, renew_seconds=0.2, check_seconds=0.2,
                    debounce_seconds=0.05, backoff_base_seconds=0.2,
                    backoff_max_seconds=1.0)


class Changes:
    """Records on_change calls with their time, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float]] = []
        self._cond = threading.Condition()

    def __call__(self, account_id: int) -> None:
        with self._cond:
            self.calls.append((account_id, time.monotonic()))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= count, timeout)


def imap_account(dovecot: DovecotServer, user: str) -> MailAccount:
    account = make_account(make_user(user), password=dovecot.users[user])
    account.incoming_port = dovecot.ports.imap
    account.save()
    return account


@pytest.fixture
def supervisors(running_dovecot: DovecotServer) -> Iterator[Callable[..., Supervisor]]:
    made: list[Supervisor] = []

    def make(owner: str, on_change: Callable[[int], None] | None = None,
             settings: IdleSettings = FAST) -> Supervisor:
        supervisor = Supervisor(owner, settings=settings,
                                client_factory=client_factory_for(running_dovecot),
                                on_change=on_change or Changes())
        made.append(supervisor)
        return supervisor
    yield make
    for supervisor in made:
        supervisor.stop()


def wait_connected(supervisor: Supervisor, timeout: float = 5.0) -> None:
    for watcher in supervisor.watchers.values():
        assert watcher.connected.wait(timeout), watcher.last_error


def test_a_delivery_reaches_on_change_well_within_a_second(
        dovecot_user: str, running_dovecot: DovecotServer,
        supervisors: Callable[..., Supervisor]) -> None:
    account = imap_account(running_dovecot, "alice")
    changes = Changes()
    supervisor = supervisors("one", changes)
    supervisor.run_once()
    wait_connected(supervisor)

    latencies = []
    for n in range(10):
        before = len(changes.calls)
        sent = time.monotonic()
        running_dovecot.deliver("alice", raw_message(n))
        assert changes.wait_for(before + 1, timeout=2.0)
        latencies.append(changes.calls[before][1] - sent)
        assert changes.calls[before][0] == account.pk
        time.sleep(FAST.debounce_seconds * 2)

    print(f"IDLE notification latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    assert statistics.median(latencies) < 1.0


def test_two_supervisors_split_the_accounts_and_a_dead_ones_are_taken_over(
        dovecot_user: str, running_dovecot: DovecotServer,
        supervisors: Callable[..., Supervisor]) -> None:
    accounts = {imap_account(running_dovecot, u).pk for u in ("alice", "bob", "charlie")}
    first, second = supervisors("first"), supervisors("second")

    first.run_once()
    assert first.account_ids == accounts
    second.run_once()  # sees two live supervisors: first must give one up
    first.run_once()
    second.run_once()

    assert len(first.account_ids) == 2 and len(second.account_ids) == 1
    assert first.account_ids | second.account_ids == accounts
    wait_connected(first)
    wait_connected(second)

    # The first one dies: no release, no more renewals.
    died = time.monotonic()
    for watcher in first.watchers.values():
        watcher.stop()
    while second.account_ids != accounts:
        assert time.monotonic() - died < FAST.lease_seconds + 2, "not taken over in time"
        time.sleep(FAST.renew_seconds)
        second.run_once()
    taken_over = time.monotonic() - died
    print(f"takeover after {taken_over:.2f} s (lease {FAST.lease_seconds} s)")
    assert taken_over <= FAST.lease_seconds + 1
    first.watchers.clear()
    wait_connected(second)


def test_a_supervisor_that_stops_releases_its_accounts_at_once(
        dovecot_user: str, running_dovecot: DovecotServer,
        supervisors: Callable[..., Supervisor]) -> None:
    account = imap_account(running_dovecot, "alice")
    first, second = supervisors("first"), supervisors("second")
    first.run_once()
    wait_connected(first)

    first.stop()
    second.run_once()

    assert second.account_ids == {account.pk}
    assert IdleLease.objects.get(account=account).owner == "second"
    assert not IdleSupervisor.objects.filter(owner="first").exists()


def test_disabled_and_pop3_accounts_get_no_watcher(
        dovecot_user: str, running_dovecot: DovecotServer,
        supervisors: Callable[..., Supervisor]) -> None:
    active = imap_account(running_dovecot, "alice")
    disabled = imap_account(running_dovecot, "bob")
    pop = imap_account(running_dovecot, "charlie")
    MailAccount.objects.filter(pk=disabled.pk).update(enabled=False)
    MailAccount.objects.filter(pk=pop.pk).update(protocol="pop3")
    supervisor = supervisors("one")

    supervisor.run_once()

    assert supervisor.account_ids == {active.pk}


def test_the_watcher_reconnects_after_the_server_was_away_and_queues_a_sync(
        dovecot_user: str, running_dovecot: DovecotServer,
        supervisors: Callable[..., Supervisor]) -> None:
    account = imap_account(running_dovecot, "alice")
    changes = Changes()
    supervisor = supervisors("one", changes)
    supervisor.run_once()
    wait_connected(supervisor)
    watcher = supervisor.watchers[account.pk]

    # Sessions outlive the master's stop: end them first, as a server restart would.
    running_dovecot.doveadm("kick", "alice")
    running_dovecot.stop()
    deadline = time.monotonic() + 5
    while watcher.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not watcher.connected.is_set()
    running_dovecot.start()

    # Reconnecting queues a catch-up sync; then new mail is pushed again.
    assert changes.wait_for(1, timeout=5)
    assert watcher.connected.wait(5)
    before = len(changes.calls)
    running_dovecot.deliver("alice", raw_message(1))
    assert changes.wait_for(before + 1, timeout=2)
    assert watcher.failures == 0


def test_reconnect_delays_grow_with_jitter_up_to_the_cap() -> None:
    settings = IdleSettings(backoff_base_seconds=2, backoff_max_seconds=300)
    first = [reconnect_delay(1, settings) for _ in range(50)]
    later = [reconnect_delay(20, settings) for _ in range(50)]

    assert all(1 <= d <= 2 for d in first) and len(set(first)) > 1
    assert all(150 <= d <= 300 for d in later)
