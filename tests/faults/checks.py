"""What must hold after every fault, and the work (mail, sends, actions) a fault hits.

- the store equals the server: every folder, every message byte for byte, every flag;
- every sent message reached the SMTP server exactly once (counted by Message-ID);
- no queued action is lost: every UpstreamOperation ended "done";
- the app answered throughout (AppProbe's answers).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from accounts.models import MailAccount
from tests.faults.network import Answer
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from webmail.compose import outbox
from webmail.compose.builder import OutgoingMessage, build_message
from webmail.compose.headers import Mailbox
from webmail.compose.models import Outbox, OutboxState, SentCopyState
from webmail.mail import blobs
from webmail.mail.models import Folder, Message, OperationState, UpstreamOperation

SYSTEM_FLAGS = (("\\Seen", "is_seen"), ("\\Flagged", "is_flagged"),
                ("\\Answered", "is_answered"), ("\\Draft", "is_draft"),
                ("\\Deleted", "is_deleted"))


def raw_message(user: str, n: int, *, size: int = 2000) -> bytes:
    """A message whose body makes it `size` bytes or so, different for every n."""
    line = f"{user} message {n} ".ljust(76, "x")
    body = "\r\n".join(f"{line}{i:03d}" for i in range(max(1, size // 80)))
    return (f"From: Sender {n} <sender{n}@example.net>\r\nTo: {user}@example.org\r\n"
            f"Subject: {user} fault {n}\r\nMessage-ID: <{user}-fault-{n}@example.net>\r\n"
            f"Date: Thu, 26 Nov 2026 12:00:{n % 60:02d} +0000\r\n\r\n{body}\r\n").encode()


# -- the store against the server -------------------------------------------------------
def store_differences(account: MailAccount, dovecot: DovecotServer, user: str) -> list[str]:
    """Every way the local copy differs from Dovecot; empty when they agree."""
    problems: list[str] = []
    remote_folders = set(dovecot.folders(user))
    local = {f.remote_name: f for f in Folder.objects.filter(account=account, local_only=False,
                                                              selectable=True)}
    if set(local) != remote_folders:
        problems.append(f"folders: store {sorted(local)} server {sorted(remote_folders)}")
    for name in sorted(remote_folders & set(local)):
        on_server = dovecot.messages(user, name)
        server_flags = dovecot.flags(user, name)
        rows = list(Message.objects.filter(folder=local[name]).order_by("uid"))
        if len(rows) != len(on_server):
            problems.append(f"{name}: {len(rows)} messages in the store, "
                            f"{len(on_server)} on the server")
            continue
        for row, raw, flags in zip(rows, on_server, server_flags, strict=True):
            if row.uid is None or row.blob_id is None:
                problems.append(f"{name}: message {row.pk} has no uid or no body")
                continue
            if blobs.get(row.blob_id) != raw:
                problems.append(f"{name} uid {row.uid}: bytes differ")
            local_flags = {flag for flag, column in SYSTEM_FLAGS if getattr(row, column)}
            local_flags |= set(row.keywords)
            if local_flags != flags:
                problems.append(f"{name} uid {row.uid}: flags {sorted(local_flags)} "
                                f"in the store, {sorted(flags)} on the server")
    return problems


# -- sending ----------------------------------------------------------------------------
def queue_sends(account: MailAccount, count: int, *, tag: str) -> list[Outbox]:
    """Queue `count` messages as the compose page does (undo window off)."""
    rows = []
    for n in range(count):
        built = build_message(OutgoingMessage(
            sender=Mailbox("Sender", account.email),
            to=[Mailbox("Rcpt", f"rcpt-{tag}-{n}@example.net")],
            subject=f"{tag} send {n}", text=f"Sent while {tag}, number {n}.\n"))
        rows.append(outbox.queue_message(owner=account.owner, account=account, built=built,
                                         subject=f"{tag} send {n}", undo_seconds=0))
    return rows


def settle_uncertain(smtp: SMTPServer) -> int:
    """What the person does with an "uncertain" row (a worker died mid-conversation):
    look at whether it arrived, then mark it sent or send it again."""
    delivered = delivery_counts(smtp)
    settled = 0
    for row in Outbox.objects.filter(state=OutboxState.UNCERTAIN):
        outbox.resolve_uncertain(row, resend=delivered[row.message_id] == 0)
        settled += 1
    return settled


_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


def delivery_counts(smtp: SMTPServer) -> Counter[str]:
    counts: Counter[str] = Counter()
    for accepted in smtp.accepted:
        head = accepted.data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        counts[found.group(1).decode() if found else "?"] += 1
    return counts


def sends_finished() -> bool:
    """Every row sent (or failed, or cancelled), and every sent one filed in Sent."""
    unfinished = Outbox.objects.exclude(
        state__in=[OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED])
    unfiled = Outbox.objects.filter(state=OutboxState.SENT, sent_copy__in=[
        SentCopyState.NONE, SentCopyState.PENDING])
    return not unfinished.exists() and not unfiled.exists()


def send_problems(rows: Iterable[Outbox], smtp: SMTPServer) -> list[str]:
    counts = delivery_counts(smtp)
    problems = []
    for row in rows:
        row.refresh_from_db()
        if row.state != OutboxState.SENT:
            problems.append(f"{row.message_id}: {row.state} ({row.last_error})")
        if row.sent_copy not in (SentCopyState.DONE, SentCopyState.SKIPPED):
            problems.append(f"{row.message_id}: sent copy {row.sent_copy!r}")
        if counts[row.message_id] != 1:
            problems.append(f"{row.message_id}: delivered {counts[row.message_id]} times")
    return problems


# -- queued actions ---------------------------------------------------------------------
def operations_finished() -> bool:
    return not UpstreamOperation.objects.filter(state=OperationState.PENDING).exists()


def operation_problems() -> list[str]:
    return [f"operation {op.pk} {op.kind}: {op.state} {op.last_error}"
            for op in UpstreamOperation.objects.exclude(state=OperationState.DONE)]


# -- the app answering ------------------------------------------------------------------
def unanswered(answers: list[Answer], *,
               broker_down: Sequence[tuple[float, float]] = ()) -> list[str]:
    """Answers that show the app not answering: no reply within the probe's timeout, or
    an error page. /healthz may say 503 while the broker is really down (its job)."""
    problems = []
    for answer in answers:
        during_outage = any(start - 1 <= answer.at <= end + 3 for start, end in broker_down)
        ok = answer.status == 200 or (answer.path == "/healthz" and answer.status == 503
                                      and during_outage)
        if not ok:
            problems.append(f"{answer.path}: {answer.status} in {answer.seconds:.1f} s")
    return problems


# -- waiting ----------------------------------------------------------------------------
def wait_for(condition: Callable[[], Any], *, timeout: float, what: str,
             step: float = 0.2) -> Any:
    started = time.monotonic()
    deadline = started + timeout
    while True:
        value = condition()
        if value:
            print(f"[faults] {what}: {time.monotonic() - started:.1f} s")  # noqa: T201
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class Beat(threading.Thread):
    """Stands in for celery beat at a faster pace: the fallbacks that pick up what a
    dead worker or a restarted broker dropped (sync due accounts, replay due actions,
    hand out due sends), every `interval` seconds. Broker errors are retried next time,
    as beat does."""

    def __init__(self, account_ids: list[int], interval: float = 1.5) -> None:
        super().__init__(name="fault-beat", daemon=True)
        self.account_ids = account_ids
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        from webmail.compose.tasks import dispatch_due
        from webmail.sync.tasks import sync_account_task
        from webmail.sync.tasks_operations import replay_due_operations

        while not self._stop_event.wait(self.interval):
            try:
                for account_id in self.account_ids:
                    sync_account_task.delay(account_id)
                dispatch_due.delay()
                replay_due_operations.delay()
            except Exception:  # noqa: BLE001, S112 - the broker is away: next tick
                continue

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)
