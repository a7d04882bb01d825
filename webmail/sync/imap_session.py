"""The IMAP sync's connection (retry once on a cut), lease renewal and progress reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db.models import Count

from accounts.models import MailAccount
from webmail.mail.models import BodyState, Folder, Message
from webmail.protocols.errors import (
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    HostUnreachable,
)
from webmail.protocols.imap import ImapClient, SelectInfo
from webmail.sync import lease
from webmail.sync.imap_prepare import Workers
from webmail.sync.stats import SyncStats

T = TypeVar("T")
# Failures of the transport, not of the request: worth one more try on a new connection.
TRANSPORT_ERRORS = (ConnectionLost, ConnectTimeout, ConnectionRefused, HostUnreachable)


class LeaseLost(Exception):
    """Another worker holds the account's lease now: stop without touching anything."""


class Session:
    """The sync's one connection, reopened once per failed batch."""

    def __init__(self, account: MailAccount, factory: Callable[[MailAccount], ImapClient],
                 stats: SyncStats, lease_owner: str) -> None:
        self.account = account
        self.factory = factory
        self.stats = stats
        self.lease_owner = lease_owner
        self._client: ImapClient | None = None
        self.workers = Workers()  # parsing and compression, in processes when it pays

    @property
    def client(self) -> ImapClient:
        if self._client is None:
            self.open()
        assert self._client is not None
        return self._client

    def open(self) -> None:
        self._client = self.factory(self.account)

    def close(self) -> None:
        self.workers.close()
        if self._client is not None:
            self._client.logout()
            self._client = None

    def select(self, folder: Folder, *, qresync: tuple[int, int] | None = None) -> SelectInfo:
        """EXAMINE the folder (read-only: a sync never changes the server)."""
        return self.run("SELECT", lambda c: c.select(folder.remote_name, readonly=True,
                                                     qresync=qresync))

    def ensure_selected(self, folder: Folder) -> None:
        """Inside a batch: select without a retry of its own (the batch retries)."""
        client = self.client
        if client.selected != folder.remote_name:
            client.select(folder.remote_name, readonly=True)

    def run(self, what: str, work: Callable[[ImapClient], T]) -> T:
        """Run a batch; after a transport failure, once more on a fresh connection.

        `work` must be idempotent and select its own folder (through ensure_selected),
        since the retry starts on a new connection with nothing selected.
        """
        try:
            return work(self.client)
        except TRANSPORT_ERRORS as exc:
            self.stats.notes.append(f"{what}: {exc} Retrying on a new connection.")
            if self._client is not None:
                self._client.close()
            self._client = None
            try:
                self.open()
                return work(self.client)
            except TRANSPORT_ERRORS as again:
                raise ConnectionLost(f"{what} failed twice: {again}", temporary=True) from again

    def renew(self) -> None:
        if not lease.renew(self.account.pk, self.lease_owner):
            raise LeaseLost(self.account.pk)


class Progress:
    """account.sync_progress and folder.sync_progress, for the UI and the admin.

    Written at most every MIN_INTERVAL seconds (and at each phase change), so progress
    costs one small UPDATE per batch at most.
    """

    MIN_INTERVAL = 0.5

    def __init__(self, account: MailAccount) -> None:
        self.account = account
        self.phase = "headers"
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self.written = 0.0
        self.folder_done: dict[int, int] = {}
        self.folder_total: dict[int, int] = {}
        self.folder_started: dict[int, float] = {}

    def folder_headers(self, folder: Folder, total: int) -> None:
        self._start_folder(folder, total)
        self.total += total
        self._write(folder, force=True)

    def headers_done(self) -> None:
        self.phase = "bodies"
        if not self.total:
            return  # nothing was new: nothing to report (a no-change resync writes nothing)
        self.account_write({"phase": "headers_done", "done": self.done, "total": self.total,
                            "rate": self._rate(self.done, self.started), "folder": ""})

    def start_bodies(self, folders: Sequence[Folder]) -> None:
        self.phase, self.done, self.started = "bodies", 0, time.monotonic()
        counts = dict(
            Message.objects.filter(folder__in=list(folders), body_state=BodyState.HEADERS,
                                   uid__isnull=False)
            .values_list("folder_id").annotate(n=Count("pk")).values_list("folder_id", "n"))
        self.total = sum(counts.values())
        for folder in folders:
            self._start_folder(folder, counts.get(folder.pk, 0))
        if self.total:
            self.account_write(self._account_value(""))

    def advance(self, folder: Folder, count: int) -> None:
        self.done += count
        self.folder_done[folder.pk] = self.folder_done.get(folder.pk, 0) + count
        self._write(folder, force=self.folder_done[folder.pk] >= self.folder_total.get(
            folder.pk, 0))

    def _start_folder(self, folder: Folder, total: int) -> None:
        self.folder_done[folder.pk] = 0
        self.folder_total[folder.pk] = total
        self.folder_started[folder.pk] = time.monotonic()

    def _write(self, folder: Folder, *, force: bool) -> None:
        moment = time.monotonic()
        if not force and moment - self.written < self.MIN_INTERVAL:
            return
        self.written = moment
        done = self.folder_done.get(folder.pk, 0)
        value = {
            "phase": self.phase,
            "done": done,
            "total": self.folder_total.get(folder.pk, 0),
            "rate": self._rate(done, self.folder_started.get(folder.pk, moment)),
            "error": "",
        }
        folder.sync_progress = value
        Folder.objects.filter(pk=folder.pk).update(sync_progress=value)
        self.account_write(self._account_value(folder.name))

    def _account_value(self, folder_name: str) -> dict[str, Any]:
        return {"phase": self.phase, "folder": folder_name, "done": self.done,
                "total": self.total, "rate": self._rate(self.done, self.started)}

    def account_write(self, value: dict[str, Any]) -> None:
        """Replace the live progress, keeping what is not progress (the quota)."""
        current = MailAccount.objects.filter(pk=self.account.pk).values_list(
            "sync_progress", flat=True).first() or {}
        if "quota" in current:
            value = {**value, "quota": current["quota"]}
        MailAccount.objects.filter(pk=self.account.pk).update(sync_progress=value)

    @staticmethod
    def _rate(done: int, started: float) -> float:
        return round(done / max(time.monotonic() - started, 1e-6), 1)


