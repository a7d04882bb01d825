"""Push: hold IMAP IDLE on the INBOX of every active IMAP account; queue a sync on change.

A `Supervisor` (one per process, `manage.py idle_supervisor`) claims accounts through
IdleLease rows and keeps a heartbeat in IdleSupervisor, so several supervisors share
the accounts fairly: each holds at most its share (accounts / live supervisors,
rounded up) and releases the excess when another one appears. Leases are renewed at
every `run_once()` (every `renew_seconds`); a supervisor that dies stops renewing, and
its accounts are claimed by the others once its leases expire (`lease_seconds`).

Each claimed account gets an `AccountWatcher` thread: connect, EXAMINE INBOX, IDLE;
re-issue IDLE before the server's 30-minute limit (RFC 2177 asks clients to renew
before 29 minutes); reconnect with exponential backoff and jitter on errors. On
EXISTS, EXPUNGE or FETCH, and once at every connect (for what arrived unwatched),
it calls `on_change(account_id)` (by default it queues
webmail.sync.tasks.sync_account_task), at most once per `debounce_seconds`, with one
trailing call for changes that arrive inside the window. Watcher threads never touch
the database: the supervisor's own thread does all lease work.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from accounts.models import MailAccount, Protocol
from webmail.mail.models import IdleLease, IdleSupervisor
from webmail.protocols.errors import ConnectionLost, ProtocolError

if TYPE_CHECKING:
    from webmail.protocols.imap import ImapClient

log = logging.getLogger(__name__)

ClientFactory = Callable[[MailAccount], "ImapClient"]
OnChange = Callable[[int], None]
CHANGE_KINDS = frozenset({"exists", "expunge", "fetch"})
EOF_EMPTY_RUN = 3


@dataclass(frozen=True)
class IdleSettings:
    lease_seconds: float = 60.0  # a dead supervisor's accounts move within this
    renew_seconds: float = 20.0  # how often run_once renews leases and rebalances
    idle_renew_seconds: float = 25 * 60.0  # re-issue IDLE before the 29-minute mark
    check_seconds: float = 1.0  # longest wait inside IDLE before looking at stop/debounce
    debounce_seconds: float = 0.5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    no_idle_recheck_seconds: float = 30 * 60.0  # a server without IDLE: beat polls it


def queue_sync(account_id: int) -> None:
    from webmail.sync.tasks import sync_account_task

    sync_account_task.delay(account_id)


def default_client_factory(account: MailAccount) -> ImapClient:
    from webmail.sync.connect import imap_client_for

    client: ImapClient = imap_client_for(account)
    return client


def reconnect_delay(failures: int, settings: IdleSettings) -> float:
    """Exponential backoff with full jitter in its upper half."""
    ceiling: float = min(settings.backoff_max_seconds,
                  settings.backoff_base_seconds * 2 ** max(0, failures - 1))
    jitter: float = random.random()  # noqa: S311 - jitter, not crypto
    return ceiling / 2 + jitter * ceiling / 2


class AccountWatcher(threading.Thread):
    """Holds IDLE on one account's INBOX until stopped."""

    def __init__(self, account: MailAccount, *, client_factory: ClientFactory,
                 on_change: OnChange, settings: IdleSettings) -> None:
        super().__init__(name=f"idle-{account.pk}", daemon=True)
        self.account = account
        self.account_id = account.pk
        self.version = account.updated_at
        self._factory = client_factory
        self._on_change = on_change
        self._settings = settings
        self._stop_event = threading.Event()
        self._client: ImapClient | None = None
        self._last_queued = -math.inf
        self._dirty = False
        self._idling = False
        self.failures = 0
        self.last_error = ""
        self.connected = threading.Event()  # set while IDLE is held (tests, status)

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._session()
            except (ProtocolError, OSError) as exc:
                self.failures += 1
                self.last_error = str(exc)
                log.info("idle connection failed",
                         extra={"account_id": self.account_id, "error": str(exc)})
                self._stop_event.wait(reconnect_delay(self.failures, self._settings))
            except Exception:  # a bug must not end push for this account for good
                self.failures += 1
                log.exception("idle watcher crashed", extra={"account_id": self.account_id})
                self._stop_event.wait(reconnect_delay(self.failures, self._settings))
            finally:
                self.connected.clear()
                self._close()

    def _session(self) -> None:
        client = self._client = self._factory(self.account)
        if not client.has("IDLE"):
            self.last_error = "The server does not support IDLE; polling instead."
            self._stop_event.wait(self._settings.no_idle_recheck_seconds)
            return
        client.select("INBOX", readonly=True)
        # IDLE only announces what changes from now on. Mail may have arrived while no
        # one watched this INBOX: before a reconnect, and before this supervisor took
        # the account over from one that died or gave it up. Look once.
        self._changed()
        self.failures = 0
        self.last_error = ""
        while not self._stop_event.is_set():
            client.idle_start()
            self._idling = True
            self.connected.set()
            started = time.monotonic()
            early_empty = 0
            while (not self._stop_event.is_set()
                   and time.monotonic() - started < self._settings.idle_renew_seconds):
                wait = self._wait_seconds()
                asked = time.monotonic()
                events = client.idle_check(wait)
                # imapclient's idle_check swallows EOF and returns [] at once: a run of
                # empty answers well before the timeout means the server hung up.
                if not events and wait >= 0.1 and time.monotonic() - asked < wait / 4:
                    early_empty += 1
                    if early_empty >= EOF_EMPTY_RUN:
                        raise ConnectionLost("The server closed the IDLE connection.")
                else:
                    early_empty = 0
                if any(e.kind in CHANGE_KINDS for e in events) or self._dirty:
                    self._changed()
            self._idling = False
            client.idle_done()

    def _wait_seconds(self) -> float:
        if not self._dirty:
            return self._settings.check_seconds
        left = self._last_queued + self._settings.debounce_seconds - time.monotonic()
        return max(0.01, min(self._settings.check_seconds, left))

    def _changed(self) -> None:
        now = time.monotonic()
        if now - self._last_queued >= self._settings.debounce_seconds:
            self._last_queued = now
            self._dirty = False
            try:
                self._on_change(self.account_id)
            except Exception:  # the broker away must not end the IDLE session
                self._dirty = True
                log.exception("could not queue a sync", extra={"account_id": self.account_id})
        else:
            self._dirty = True

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._idling:
            self._idling = False
            try:
                client.idle_done()
            except ProtocolError:
                client.close()  # the connection is gone: no LOGOUT to send
                return
        client.logout()


class Supervisor:
    """Claims accounts by lease and runs one AccountWatcher per claimed account."""

    def __init__(self, owner: str | None = None, *, settings: IdleSettings | None = None,
                 client_factory: ClientFactory | None = None,
                 on_change: OnChange | None = None) -> None:
        self.owner = owner or f"idle-{uuid.uuid4().hex[:12]}"
        self.settings = settings or IdleSettings()
        self._factory = client_factory or default_client_factory
        self._on_change = on_change or queue_sync
        self.watchers: dict[int, AccountWatcher] = {}

    @property
    def account_ids(self) -> set[int]:
        return set(self.watchers)

    def run_once(self) -> None:
        """Heartbeat, renew, rebalance, claim, and (re)start watchers."""
        now = timezone.now()
        until = now + timedelta(seconds=self.settings.lease_seconds)
        IdleSupervisor.objects.update_or_create(owner=self.owner,
                                                defaults={"expires_at": until})
        IdleSupervisor.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
        live = IdleSupervisor.objects.filter(expires_at__gt=now).count()
        accounts = {a.pk: a for a in MailAccount.objects.filter(
            enabled=True, reconnect_needed=False, protocol=Protocol.IMAP).order_by("pk")}
        share = math.ceil(len(accounts) / max(1, live))

        held = set(IdleLease.objects.filter(owner=self.owner, expires_at__gt=now,
                                            account_id__in=list(accounts))
                   .values_list("account_id", flat=True))
        excess = sorted(held)[share:]
        held -= set(excess)
        IdleLease.objects.filter(owner=self.owner, account_id__in=list(held)).update(
            expires_at=until)
        self._release(set(excess) | {a for a in self.watchers if a not in accounts})
        if len(held) < share:
            held |= self._claim(accounts, held, share - len(held), now, until)
        for account_id in set(self.watchers) - held:
            self._stop_watcher(account_id)
        for account_id in sorted(held):
            self._ensure_watcher(accounts[account_id])

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database away for a moment must not end push
                log.exception("idle supervisor round failed")
            stop.wait(self.settings.renew_seconds)

    def stop(self) -> None:
        """Stop every watcher and release the leases, so others take over at once."""
        for watcher in self.watchers.values():
            watcher.stop()
        for watcher in self.watchers.values():
            watcher.join(timeout=self.settings.check_seconds + 10)
        self.watchers.clear()
        IdleLease.objects.filter(owner=self.owner).update(owner="", expires_at=None)
        IdleSupervisor.objects.filter(owner=self.owner).delete()

    def _claim(self, accounts: dict[int, MailAccount], held: set[int], wanted: int,
               now: datetime, until: datetime) -> set[int]:
        IdleLease.objects.bulk_create(
            [IdleLease(account_id=pk) for pk in accounts], ignore_conflicts=True)
        free = (IdleLease.objects.filter(account_id__in=list(accounts))
                .exclude(account_id__in=list(held))
                .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now))
                .order_by("account_id").values_list("account_id", flat=True))
        claimed: set[int] = set()
        for account_id in free:
            if len(claimed) >= wanted:
                break
            # Conditional UPDATE: another supervisor racing for the same row loses.
            if IdleLease.objects.filter(account_id=account_id).filter(
                    Q(expires_at__isnull=True) | Q(expires_at__lt=now)
            ).update(owner=self.owner, expires_at=until):
                claimed.add(account_id)
        return claimed

    def _release(self, account_ids: set[int]) -> None:
        for account_id in account_ids:
            self._stop_watcher(account_id)
        IdleLease.objects.filter(owner=self.owner, account_id__in=list(account_ids)).update(
            owner="", expires_at=None)

    def _ensure_watcher(self, account: MailAccount) -> None:
        watcher = self.watchers.get(account.pk)
        if watcher is not None and watcher.is_alive() and watcher.version == account.updated_at:
            return
        if watcher is not None:  # settings changed (or it died): start afresh
            self._stop_watcher(account.pk)
        watcher = AccountWatcher(account, client_factory=self._factory,
                                 on_change=self._on_change, settings=self.settings)
        self.watchers[account.pk] = watcher
        watcher.start()

    def _stop_watcher(self, account_id: int) -> None:
        watcher = self.watchers.pop(account_id, None)
        if watcher is not None:
            watcher.stop()
