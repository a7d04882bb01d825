"""POP3 sync: download what is new into the local Inbox, then delete upstream by policy.

The order is what keeps mail safe:

1. UIDL says which messages the server holds; those whose id we recorded are skipped.
2. Each new message is fetched (RETR) and stored with its UIDL in one transaction,
   a small batch at a time, so memory stays bounded and progress is kept.
3. Only then, and only for messages whose UIDL is committed, DELE as the account's
   policy says (keep / delete after download / delete after N days), after one
   sync() has put the store on disk (make_durable).
4. QUIT makes the DELEs final (RFC 1939: a session that ends without QUIT deletes
   nothing). Only after QUIT succeeded do we record `deleted_upstream_at`.

A session cut anywhere leaves committed messages committed and their UIDLs recorded,
so the next run fetches nothing twice, fetches what was not committed, and retries the
deletes the server discarded.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Generator
from concurrent.futures import Executor
from datetime import datetime, timedelta

from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.hosts import check_host_allowed
from accounts.models import MailAccount, Pop3Policy
from webmail.mail.local_folders import ensure_local_folders
from webmail.mail.models import Folder
from webmail.protocols.pop3 import Pop3Client, Pop3Uid, Pop3UidList
from webmail.protocols.tls import ServerEndpoint
from webmail.sync import lease
from webmail.sync.connect import incoming_endpoint_for
from webmail.sync.imap_prepare import Chunks, Workers, release_memory
from webmail.sync.pop3_store import (
    Downloaded,
    KnownUidl,
    known_uidls,
    mark_deleted_upstream,
    store_batch,
)
from webmail.sync.stats import SyncStats
from webmail.sync.writer import BatchWriter

# A batch commits after this many messages or bytes, whichever comes first: few enough
# that a cut session re-fetches little and memory stays a few MB, many enough that the
# per-batch cost (the commit, the search index's and thread keys' statements) is spread
# over many messages: at 50 they were a third of a 10,000-message fetch (py-spy).
# The IMAP bodies phase uses the same sizes.
BATCH_MESSAGES = 200
BATCH_BYTES = 8 * 1024 * 1024
# Seconds to wait for a POP3 server's answer; a 300 KB RETR on a slow link fits.
TIMEOUT_SECONDS = 60.0

SYNTHETIC_NOTE = (
    "This POP3 server does not support UIDL: messages are recognised by a hash of "
    "their headers, so two identical messages may be told apart only by position."
)

TOO_LARGE_NOTE = ("{count} message(s) larger than {limit} stay on the POP3 server: "
                  "they are not downloaded here (read them with another client).")

ClientFactory = Callable[[MailAccount], Pop3Client]


def endpoint_for(account: MailAccount) -> ServerEndpoint:
    return incoming_endpoint_for(account, timeout=TIMEOUT_SECONDS)


def pop3_client_for(account: MailAccount) -> Pop3Client:
    """A POP3 client for the account (not connected yet); refuses non-public hosts."""
    endpoint = endpoint_for(account)
    check_host_allowed(endpoint.host, endpoint.port, timeout=endpoint.timeout)
    return Pop3Client(endpoint)


def sync_pop3_account(
    account: MailAccount,
    stats: SyncStats,
    *,
    lease_owner: str,
    now: Callable[[], datetime] = timezone.now,
    client_factory: ClientFactory = pop3_client_for,
) -> None:
    """Download new messages of a POP3 account and apply its deletion policy.

    Raises ProtocolError subclasses; what was committed before the error stays.
    """
    inbox = ensure_local_folders(account)["inbox"]
    stats.folders = 1
    progress = _Progress(account)
    client = client_factory(account)
    try:
        with stats.phase("connect"):
            client.connect()
            client.login()
        to_delete = _session(client, account, inbox, stats, progress,
                             lease_owner=lease_owner, now=now)
        progress.phase("quit")
    except BaseException:
        # No QUIT: the server forgets this session's DELEs and keeps every message.
        client.close()
        raise
    client.quit()
    # QUIT succeeded: the server has now removed what we marked.
    if to_delete:
        mark_deleted_upstream(to_delete, now())
        stats.messages_deleted_upstream = len(to_delete)


def _session(
    client: Pop3Client,
    account: MailAccount,
    inbox: Folder,
    stats: SyncStats,
    progress: _Progress,
    *,
    lease_owner: str,
    now: Callable[[], datetime],
) -> list[int]:
    """Everything between login and QUIT; returns the Pop3Uidl ids marked with DELE."""
    with stats.phase("uidl"):
        listing = client.uidl()
    if listing.synthetic:
        stats.notes.append(SYNTHETIC_NOTE)
    known = known_uidls(account)
    on_server = listing.by_uid()
    gone = [k.pk for uid, k in known.items() if not k.deleted_upstream and uid not in on_server]
    if gone:
        # Deleted by another client, or by our own QUIT whose answer we never saw.
        mark_deleted_upstream(gone, now())
    new = _within_limit(client, [entry for entry in listing.entries if entry.uid not in known],
                        stats)
    del known  # the policy step reads the committed state again
    progress.start(len(new), synthetic=listing.synthetic)
    with stats.phase("fetch"):
        kept_lease = _fetch(client, account, inbox, new, listing, stats, progress,
                            lease_owner=lease_owner, now=now)
    if not kept_lease:
        stats.notes.append("Another sync took over this account; deletes skipped.")
        return []
    with stats.phase("delete"):
        return _delete_by_policy(client, account, on_server, now=now)


def _within_limit(client: Pop3Client, new: list[Pop3Uid], stats: SyncStats) -> list[Pop3Uid]:
    """The new messages but those over the client's size limit (LIST), which stay on
    the server with a note on the account: never stored, so never deleted, and the
    rest of the mailbox is still fetched."""
    if not new:
        return new
    sizes = {item.number: item.size for item in client.list_messages()}
    kept = [entry for entry in new if sizes.get(entry.number, 0) <= client.max_message]
    if len(kept) < len(new):
        stats.notes.append(TOO_LARGE_NOTE.format(
            count=len(new) - len(kept), limit=filesizeformat(client.max_message)))
    return kept


def _fetch(
    client: Pop3Client,
    account: MailAccount,
    inbox: Folder,
    new: list[Pop3Uid],
    listing: Pop3UidList,
    stats: SyncStats,
    progress: _Progress,
    *,
    lease_owner: str,
    now: Callable[[], datetime],
) -> bool:
    """RETR and store the new messages; False if the lease was lost on the way.

    Pipelined like the IMAP bodies phase: batch k+1 is retrieved and parsed (in worker
    processes when there are enough messages, imap_prepare.Workers) while batch k is
    written, so parsing (~5 ms a message, most of a POP3 fetch's CPU; profiled) runs
    beside the database writes instead of before them.
    """
    workers = Workers()
    try:
        executor = workers.for_work(len(new))
        waiting: _InFlight | None = None
        # With enough messages, batch k is stored in a thread of its own while batch k+1
        # is retrieved (webmail/sync/writer.py); one write at a time, in order. Leaving
        # early closes `batches`, which reads the answers to RETRs already sent.
        with contextlib.closing(_batches(client, new, now, executor)) as batches, \
                BatchWriter(background=workers.worth_overlapping(len(new))) as writer:
            while True:
                try:
                    batch = next(batches, None)
                except BaseException:
                    # RETR failed: what was retrieved completely is still stored (and not
                    # fetched again next time) before the error goes up.
                    writer.wait()
                    if waiting is not None:
                        _store(account, inbox, waiting, listing, stats, progress, now)
                    raise
                if waiting is not None:
                    writer.wait()
                    release_memory()
                    # The lease is renewed before each batch is stored, as it was after
                    # the one before: no batch is written by a sync that lost it.
                    if not lease.renew(account.pk, lease_owner):
                        return False
                    writer.submit(_store, account, inbox, waiting, listing, stats, progress,
                                  now)
                if batch is None:
                    writer.wait()
                    return lease.renew(account.pk, lease_owner)
                waiting = batch
    finally:
        workers.close()


_InFlight = Chunks[str]  # by UIDL


def _store(account: MailAccount, inbox: Folder, batch: _InFlight, listing: Pop3UidList,
           stats: SyncStats, progress: _Progress, now: Callable[[], datetime]) -> None:
    items = [Downloaded(uidl=uidl, prepared=prepared) for uidl, prepared in batch.results()]
    stored = store_batch(account, inbox, items, synthetic=listing.synthetic, now=now)
    stats.messages_fetched += stored
    stats.bytes_fetched += sum(item.size for item in items)
    progress.advance(len(items))


def _batches(
    client: Pop3Client, new: list[Pop3Uid], now: Callable[[], datetime], executor: Executor
) -> Generator[_InFlight, None, None]:
    """RETR a batch of messages (by count and bytes) and hand each to the parser."""
    uids = {entry.number: entry.uid for entry in new}
    batch: _InFlight = Chunks(executor)
    size = 0
    with contextlib.closing(client.retr_many(uids)) as messages:
        for number, raw in messages:
            batch.add(uids[number], raw, now())
            size += len(raw)
            del raw
            if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
                batch.flush()
                yield batch
                batch, size = Chunks(executor), 0
    if batch:
        batch.flush()
        yield batch


def _delete_by_policy(
    client: Pop3Client,
    account: MailAccount,
    on_server: dict[str, int],
    *,
    now: Callable[[], datetime],
) -> list[int]:
    """DELE every stored message the policy lets go; returns their Pop3Uidl ids.

    Reads the UIDLs again from the database: only committed ones count.
    """
    if account.pop3_policy == Pop3Policy.KEEP:
        return []
    cutoff: datetime | None = None
    if account.pop3_policy == Pop3Policy.DELETE_AFTER_DAYS:
        cutoff = now() - timedelta(days=account.pop3_delete_after_days)
    chosen = [
        (uid, known) for uid, known in _sorted_known(known_uidls(account), on_server)
        if not known.deleted_upstream
        and (cutoff is None or known.downloaded_at <= cutoff)
    ]
    if chosen:
        make_durable()
    for uid, _known in chosen:
        client.dele(on_server[uid])
    return [known.pk for _uid, known in chosen]


def make_durable() -> None:
    """Put what this host stored on its disks before the server lets mail go.

    A commit is durable against a crash of the process, but on SQLite (WAL with
    synchronous=NORMAL, settings.py) the last commits, and the blob files, which are
    not fsynced one by one, may sit in the page cache: after a power loss the server
    would have deleted mail we no longer hold. One sync() of the system writes them
    all out, the WAL's committed frames and the files. PostgreSQL and S3 are durable on
    commit; for them the sync is only the blob directory's.
    """
    os.sync()


def _sorted_known(
    known: dict[str, KnownUidl], on_server: dict[str, int]
) -> list[tuple[str, KnownUidl]]:
    """Known UIDLs still on the server, in the server's message order."""
    present = [(uid, k) for uid, k in known.items() if uid in on_server]
    present.sort(key=lambda pair: on_server[pair[0]])
    return present


class _Progress:
    """account.sync_progress for the UI: phase, done, total, rate (messages/second)."""

    # Write at most this often: a progress UPDATE per batch is cheap, per message not.
    MIN_INTERVAL = 0.5

    def __init__(self, account: MailAccount) -> None:
        self.account = account
        self.total = 0
        self.done = 0
        self.synthetic = False
        self.started = time.monotonic()
        self.written = 0.0

    def start(self, total: int, *, synthetic: bool) -> None:
        self.total, self.synthetic = total, synthetic
        self.started = time.monotonic()
        self._write("fetch", force=True)

    def advance(self, count: int) -> None:
        self.done += count
        self._write("fetch", force=self.done >= self.total)

    def phase(self, name: str) -> None:
        self._write(name, force=True)

    def _write(self, phase: str, *, force: bool) -> None:
        moment = time.monotonic()
        if not force and moment - self.written < self.MIN_INTERVAL:
            return
        self.written = moment
        elapsed = max(moment - self.started, 1e-6)
        value: dict[str, object] = {
            "phase": phase,
            "folder": "INBOX",
            "done": self.done,
            "total": self.total,
            "rate": round(self.done / elapsed, 1),
        }
        if self.synthetic:
            value["uidl"] = "synthetic"
            value["note"] = SYNTHETIC_NOTE
        MailAccount.objects.filter(pk=self.account.pk).update(sync_progress=value)
