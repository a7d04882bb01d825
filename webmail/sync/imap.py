"""IMAP sync: the local copy of every folder follows the server.

One sync of an account:
1. replay the person's queued UpstreamOperations (so the server holds their changes
   before we read it back);
2. the folder list (webmail.sync.folders);
3. for every folder, headers first: new UIDs' envelopes and flags newest first, flag
   changes (QRESYNC, else CHANGEDSINCE, else all flags) and expunges (VANISHED, else a
   UID SEARCH difference); the message list is complete when this pass ends;
4. then whole messages, newest first, in batches: raw bytes to the blob store, parsed
   fields to the row;
5. the quota.

Everything is an idempotent upsert on (folder, uidvalidity, uid), committed per batch,
so a sync killed anywhere and run again ends in the same state. A connection cut inside
a batch is retried once on a fresh connection; a second failure raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from accounts.models import MailAccount
from webmail.mail.models import BodyState, Folder, Message
from webmail.mail.search_batch import index_missing_header_rows
from webmail.parsing.envelope import ENVELOPE_HEADERS, parse_envelopes
from webmail.parsing.mime import ParsedMessage
from webmail.protocols.errors import ConnectionLost, PermanentServerError, ProtocolError
from webmail.protocols.imap import FolderStatus, HeaderRecord, ImapClient
from webmail.sync import imap_store as store
from webmail.sync.connect import imap_client_for
from webmail.sync.folders import sync_folder_list
from webmail.sync.imap_headers import insert_header_rows
from webmail.sync.imap_prepare import Chunks, release_memory
from webmail.sync.imap_session import LeaseLost, Progress, Session
from webmail.sync.quota import quota_due, refresh_quota
from webmail.sync.stats import SyncStats
from webmail.sync.writer import BatchWriter

log = logging.getLogger(__name__)

# Headers per transaction: ~2-4 KB each, so 500 are about 1-2 MB to parse and one
# INSERT; the list grows visibly every fraction of a second, and a cut costs little.
HEADER_BATCH = 500
# Whole messages per transaction: at most this many or this many bytes, whichever
# comes first. Big enough that per-batch costs (a round trip, a commit, a lease renewal)
# vanish next to the transfer, small enough that memory stays a few tens of MB and a
# killed sync refetches at most one batch.
BODY_BATCH = 200
BODY_BATCH_BYTES = 8 * 1024 * 1024

ClientFactory = Callable[[MailAccount], ImapClient]
Row = tuple[int, int, int, datetime | None]  # pk, uid, size, internal_date


def sync_imap_account(account: MailAccount, stats: SyncStats, *, lease_owner: str,
                      client_factory: ClientFactory = imap_client_for) -> None:
    """One full sync of an IMAP account; raises ProtocolError subclasses."""
    progress = Progress(account)
    session = Session(account, client_factory, stats, lease_owner)
    with stats.phase("connect"):
        session.open()
    try:
        with stats.phase("replay"):
            _replay(session, lease_owner)
        with stats.phase("folders"):
            remote = session.run("LIST", ImapClient.list_folders)
            folders = sync_folder_list(account, remote)
        statuses = {r.remote_name: r.status for r in remote}
        selectable = [f for f in folders if f.selectable]
        stats.folders = len(folders)
        changed = 0
        with stats.phase("headers"):
            for folder in selectable:
                changed += bool(_guarded(folder, stats, partial(
                    sync_folder_headers, session, folder, stats, progress,
                    statuses.get(folder.remote_name))))
        progress.headers_done()
        with stats.phase("search_index"):
            index_missing_header_rows([f.pk for f in selectable])
        with stats.phase("bodies"):
            progress.start_bodies(selectable)
            for folder in selectable:
                if progress.folder_total.get(folder.pk):
                    _guarded(folder, stats, partial(sync_folder_bodies, session, folder,
                                                    stats, progress))
        if changed or quota_due(account):
            with stats.phase("quota"):
                session.run("GETQUOTAROOT", partial(_quota, account))
    except LeaseLost:
        stats.notes.append("Another sync took over this account; stopped.")
    finally:
        session.close()


def _quota(account: MailAccount, client: ImapClient) -> None:
    refresh_quota(client, account)


def _replay(session: Session, lease_owner: str) -> None:
    try:
        from webmail.sync.operations import replay_with_lease
    except ImportError:  # the offline-actions module is optional for the engine
        return
    replay_with_lease(session.account, lease_owner=lease_owner, client=session.client)


def _guarded(folder: Folder, stats: SyncStats, work: Callable[[], object]) -> object:
    """A folder the server refuses for good is recorded and skipped; the rest go on."""
    try:
        return work()
    except PermanentServerError as exc:
        stats.errors.append(f"{folder.name}: {exc}")
        Folder.objects.filter(pk=folder.pk).update(
            sync_progress={**folder.sync_progress, "error": str(exc)})
        return True  # counts as a change: the next steps should look again


def sync_folder_headers(session: Session, folder: Folder, stats: SyncStats,
                        progress: Progress, status: FolderStatus | None = None) -> bool:
    """New messages' envelopes, flag changes and expunges of one folder.

    With LIST-STATUS and CONDSTORE, a folder whose UIDVALIDITY, UIDNEXT and
    HIGHESTMODSEQ are what we stored has nothing new, nothing changed and nothing
    expunged: it is not even selected (a no-change resync is one LIST). Returns False
    for such a folder, True when it was looked at.
    """
    client = session.client
    if (status is not None and client.condstore and folder.highestmodseq is not None
            and (status.uidvalidity, status.uidnext, status.highestmodseq)
            == (folder.uidvalidity, folder.uidnext, folder.highestmodseq)):
        return False
    resync = folder.uidvalidity is not None and folder.highestmodseq is not None \
        and client.qresync
    qresync = (int(folder.uidvalidity or 0), int(folder.highestmodseq or 0)) if resync else None
    info = session.select(folder, qresync=qresync)
    if folder.uidvalidity is not None and info.uidvalidity != folder.uidvalidity:
        stats.notes.append(f"{folder.name}: UIDVALIDITY changed, rebuilt.")
        stats.messages_deleted_locally += store.rebuild_folder(folder, info.uidvalidity)
        qresync = None
    elif folder.uidvalidity is None:
        store.save_folder_state(folder, uidvalidity=info.uidvalidity)
    uv = info.uidvalidity
    known_before = folder.last_seen_uid

    if known_before:
        with stats.phase("flags"):
            if qresync is not None:
                stats.messages_deleted_locally += store.delete_uids(folder, uv, info.vanished)
                stats.flags_updated += store.apply_flags(folder, uv, info.changed)
            else:
                _flags_without_qresync(session, folder, info.uidnext, info.exists,
                                       info.highestmodseq, stats)

    fresh: list[int] = []
    if not info.uidnext or info.uidnext > known_before + 1:
        on_server = session.run("SEARCH", lambda c: [
            u for u in c.search_uids(f"UID {known_before + 1}:*") if u > known_before])
        have = store.local_uids(folder, uv, above=known_before)
        fresh = sorted((u for u in on_server if u not in have), reverse=True)
        progress.folder_headers(folder, len(fresh))
        _new_headers(session, folder, uv, fresh, stats, progress)
        if on_server:
            known_before = max(known_before, max(on_server))
    store.refresh_counts(folder)
    store.save_folder_state(folder, uidnext=info.uidnext or None,
                            highestmodseq=info.highestmodseq, last_seen_uid=known_before)
    return True


def _new_headers(session: Session, folder: Folder, uidvalidity: int, fresh: list[int],
                 stats: SyncStats, progress: Progress) -> None:
    """New messages' envelopes, HEADER_BATCH at a time in the given order (newest
    first), each batch inserted in its own transaction (idempotent).

    Only the envelope's header fields are fetched and parsed (webmail.parsing.envelope).
    With a parsing pool (enough new messages and a second CPU), batch k+1 is fetched and
    its envelopes parsed in a worker while batch k is inserted here: the parse was a
    third of the phase, and the inserts and thread keys keep this process busy.
    """
    waiting: tuple[list[HeaderRecord], Future[list[ParsedMessage]]] | None = None
    for start in range(0, len(fresh), HEADER_BATCH):
        batch = fresh[start:start + HEADER_BATCH]
        records = session.run("FETCH headers", partial(_fetch_headers, session, folder,
                                                       batch, stats))
        parsing = session.workers.ready_for(len(fresh) - start).submit(
            parse_envelopes, [(r.header_bytes, r.internal_date) for r in records])
        if waiting is not None:
            _insert_headers(session, folder, uidvalidity, *waiting, progress)
        waiting = (records, parsing)
    if waiting is not None:
        _insert_headers(session, folder, uidvalidity, *waiting, progress)


def _fetch_headers(session: Session, folder: Folder, uids: list[int], stats: SyncStats,
                   client: ImapClient) -> list[HeaderRecord]:
    session.ensure_selected(folder)
    records = list(client.fetch_headers(uids, fields=ENVELOPE_HEADERS))
    stats.bytes_fetched += sum(len(r.header_bytes) for r in records)
    return records


def _insert_headers(session: Session, folder: Folder, uidvalidity: int,
                    records: list[HeaderRecord], parsing: Future[list[ParsedMessage]],
                    progress: Progress) -> None:
    count = insert_header_rows(session.account, folder, uidvalidity, records, parsing.result())
    store.refresh_counts(folder)
    progress.advance(folder, count)
    session.renew()


def _flags_without_qresync(session: Session, folder: Folder, uidnext: int, exists: int,
                           highestmodseq: int | None, stats: SyncStats) -> None:
    """CHANGEDSINCE when CONDSTORE is on, all flags otherwise; expunges by UID difference."""
    uv = int(folder.uidvalidity or 0)
    last = folder.last_seen_uid
    client = session.client
    if client.condstore and folder.highestmodseq and highestmodseq:
        if highestmodseq != folder.highestmodseq:
            records = session.run("FETCH flags", lambda c: c.fetch_flags(
                f"1:{last}", changedsince=int(folder.highestmodseq or 0)))
            stats.flags_updated += store.apply_flags(folder, uv, records)
    else:
        records = session.run("FETCH flags", lambda c: c.fetch_flags(f"1:{last}"))
        stats.flags_updated += store.apply_flags(folder, uv, records)
    local_count = Message.objects.filter(folder=folder, uidvalidity=uv, uid__isnull=False).count()
    if uidnext == folder.uidnext and exists == local_count:
        return  # nothing new and nothing gone: the counts would differ otherwise
    on_server = set(session.run("SEARCH", lambda c: c.search_uids(f"UID 1:{last}")))
    gone = store.local_uids(folder, uv) - on_server
    gone = {u for u in gone if u <= last}
    stats.messages_deleted_locally += store.delete_uids(folder, uv, gone)


def sync_folder_bodies(session: Session, folder: Folder, stats: SyncStats,
                       progress: Progress) -> None:
    """Whole messages of one folder, newest first, a batch per transaction.

    Pipelined: batch k+1 is fetched and handed to the parsing workers before batch k is
    written, so parsing overlaps the database writes when a second CPU is there.
    """
    uv = folder.uidvalidity
    if uv is None:
        return
    pending = Message.objects.filter(folder=folder, uidvalidity=uv, uid__isnull=False,
                                     body_state=BodyState.HEADERS)
    total = progress.folder_total.get(folder.pk, 0)
    executor = session.workers.for_work(total)
    below: int | None = None
    waiting: InFlight | None = None
    # With enough messages, batch k is stored in a thread of its own while batch k+1 is
    # fetched (webmail/sync/writer.py); the lease and progress follow each stored batch.
    with BatchWriter(background=session.workers.worth_overlapping(total)) as writer:
        while True:
            rows = pending if below is None else pending.filter(uid__lt=below)
            batch = _cut([(pk, int(uid or 0), size, when) for pk, uid, size, when in
                          rows.order_by("-uid").values_list(
                              "pk", "uid", "size", "internal_date")[:BODY_BATCH]])
            if not batch:
                break
            below = min(int(row[1]) for row in batch)
            fetched = session.run("FETCH bodies", partial(_fetch_bodies, session, folder,
                                                          batch, stats, executor))
            if waiting is not None:
                _stored(writer, session, folder, progress)
                writer.submit(_store_bodies, waiting, stats)
            waiting = fetched
        _stored(writer, session, folder, progress)
        if waiting is not None:
            writer.submit(_store_bodies, waiting, stats)
            progress.advance(folder, writer.wait())


def _stored(writer: BatchWriter, session: Session, folder: Folder, progress: Progress) -> None:
    """After the write in flight: its progress, the lease, memory back to the system."""
    count = writer.wait()
    if count is not None:
        progress.advance(folder, count)
        session.renew()
        release_memory()


def _cut(rows: list[Row]) -> list[Row]:
    total = 0
    for index, row in enumerate(rows):
        total += int(row[2] or 0)
        if total > BODY_BATCH_BYTES and index > 0:
            return rows[:index]
    return rows


def _fetch_bodies(session: Session, folder: Folder, batch: list[Row], stats: SyncStats,
                  executor: Executor, client: ImapClient) -> InFlight:
    """Fetch one batch (idempotent, so a cut connection can retry it) and start parsing."""
    session.ensure_selected(folder)
    by_uid = {int(uid): (pk, size, when) for pk, uid, size, when in batch}
    chunks: Chunks[int] = Chunks(executor)
    received = 0
    for uid, raw in client.fetch_messages(list(by_uid), sizes={
            u: int(v[1] or 0) for u, v in by_uid.items()}):
        chunks.add(by_uid[uid][0], raw, by_uid[uid][2])
        received += len(raw)
    chunks.flush()
    stats.bytes_fetched += received
    # Expunged since the headers pass (the next sync removes them) or refused.
    missing = [pk for pk, _size, _when in by_uid.values() if pk not in chunks.keys]
    return InFlight(chunks, missing)


def _store_bodies(batch: InFlight, stats: SyncStats) -> int:
    items = list(batch.chunks.results())
    store.store_bodies(items)
    if batch.missing:
        store.mark_failed(batch.missing)
    stats.messages_fetched += len(items)
    return len(items)


@dataclass(frozen=True)
class InFlight:
    """A fetched batch whose messages are being parsed, by message pk."""

    chunks: Chunks[int]
    missing: list[int]


__all__ = ["ConnectionLost", "ProtocolError", "sync_folder_bodies", "sync_folder_headers",
           "sync_imap_account"]
