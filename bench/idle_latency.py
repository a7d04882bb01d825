"""Push benchmark: new mail to stored through IMAP IDLE, with the app's own processes.

    .venv/bin/python -m bench.idle_latency                  # 30 deliveries, 1,000 held
    .venv/bin/python -m bench.idle_latency --count 60 --mailbox 10000

Starts a private Dovecot and a private redis-server, makes a fresh SQLite site with one
IMAP account whose INBOX holds `--mailbox` generated messages (first sync done by
`manage.py sync_account`), then runs the push path as `make run` starts it:
`manage.py idle_supervisor` and a Celery worker (prefork). Each of `--count` new
messages is delivered (IMAP APPEND from another connection, as a delivery agent would
make Dovecot notice) after the previous one was stored, and timed from the APPEND's
start until, read from the database as another process sees it,

- **listed**: its row is there (the message list shows it);
- **stored**: its body is stored and parsed (body_state "full").

The floor, in the same run: a bare imaplib connection in IDLE on the same INBOX,
timed from the APPEND's start to its `* n EXISTS`. Goal (issue #3): median of
"stored" under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import imaplib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from bench.generator import generate_mailbox
from bench.harness import ROOT, USER, fresh_site, manage
from tests.servers import dovecot as dovecot_module
from tests.servers.dovecot import DovecotServer, free_port
from tests.servers.tls import make_test_certificates

BIN = Path(sys.executable).parent
TIMEOUT = 30.0


def new_message(n: int) -> tuple[str, bytes]:
    message_id = f"push-{n}-{time.time_ns()}@bench.test"
    raw = (f"From: Bob <bob@bench.test>\r\nTo: alice@bench.test\r\n"
           f"Subject: Push {n}\r\nMessage-ID: <{message_id}>\r\n"
           f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello number {n}.\r\n").encode()
    return message_id, raw


def body_state(database: Path, message_id: str) -> str | None:
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True,
                                     timeout=0.05)) as conn:
            row = conn.execute("SELECT body_state FROM mail_message WHERE message_id = ?",
                               (message_id,)).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def timed_delivery(server: DovecotServer, database: Path, n: int) -> tuple[float, float]:
    """Seconds from the APPEND's start to the row listed, and to its body stored."""
    message_id, raw = new_message(n)
    start = time.perf_counter()
    server.deliver(USER, raw)
    listed = float("nan")
    while time.perf_counter() - start < TIMEOUT:
        state = body_state(database, message_id)
        if state is not None and listed != listed:
            listed = time.perf_counter() - start  # (NaN != NaN: not seen yet)
        if state == "full":
            return listed, time.perf_counter() - start
        time.sleep(0.01)
    raise SystemExit(f"message {n} was not stored within {TIMEOUT:.0f} s")


class BareIdle:
    """A plain imaplib connection in IDLE on INBOX; wait() returns when EXISTS comes."""

    def __init__(self, server: DovecotServer) -> None:
        self.conn = imaplib.IMAP4(server.host, server.ports.imap, timeout=TIMEOUT)
        self.conn.login(USER, server.users[USER])
        self.conn.select("INBOX")
        self.seen = threading.Event()

    def start(self) -> None:
        self.seen.clear()
        self.conn.send(b"I1 IDLE\r\n")
        line = self.conn.readline()
        if not line.startswith(b"+"):
            raise SystemExit(f"IDLE refused: {line!r}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not (line := self.conn.readline()).endswith(b"EXISTS\r\n"):
            if not line:
                return
        self.seen.set()

    def stop(self) -> None:
        self.conn.send(b"DONE\r\n")
        while not self.conn.readline().startswith(b"I1 "):
            pass

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.logout()


def floor(server: DovecotServer, count: int) -> list[float]:
    idle = BareIdle(server)
    seconds = []
    try:
        for n in range(count):
            idle.start()
            time.sleep(0.05)  # IDLE is in place on the server's side too
            _message_id, raw = new_message(n)
            start = time.perf_counter()
            server.deliver(USER, raw)
            if not idle.seen.wait(TIMEOUT):
                raise SystemExit("the bare IDLE saw no EXISTS")
            seconds.append(time.perf_counter() - start)
            idle.stop()
    finally:
        idle.close()
    return seconds


@contextlib.contextmanager
def app_processes(env: dict[str, str], logs: Path) -> Iterator[None]:
    commands = {
        "worker": [str(BIN / "celery"), "-A", "webmail", "worker", "--loglevel", "WARNING",
                   "--concurrency", "2"],
        "idle": [sys.executable, str(ROOT / "manage.py"), "idle_supervisor"],
    }
    procs = {}
    try:
        for name, command in commands.items():
            with (logs / f"{name}.log").open("ab") as out:
                procs[name] = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out,
                                               stderr=subprocess.STDOUT,
                                               start_new_session=True)
        yield
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--mailbox", type=int, default=1000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "scripts"))
    from services import ensure_redis  # type: ignore[import-not-found]  # scripts/

    dovecot_module.QUOTA_LIMIT = "4G"  # the fixture's 100 MB quota is for tests
    server = DovecotServer(make_test_certificates())
    server.start()
    work = Path(tempfile.mkdtemp(prefix="webmail-bench-idle-"))
    redis_url, stop_redis = ensure_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        server.deliver_many(USER, generate_mailbox(args.mailbox, 1))
        env, account_id = fresh_site(server, work / "data", protocol="imap",
                                     port=server.ports.imap)
        env = {**env, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(name, None)
        manage(env, "sync_account", account_id, "--json")
        floor_seconds = floor(server, args.count)
        print(f"floor (bare imaplib IDLE, APPEND to EXISTS): {summary(floor_seconds)}",
              flush=True)
        database = work / "data" / "webmail.sqlite3"
        with app_processes(env, work):
            time.sleep(8)  # the worker and the supervisor's IDLE sessions come up
            timed_delivery(server, database, -1)  # the first task warms the worker
            listed, stored = zip(*(timed_delivery(server, database, n)
                                   for n in range(args.count)), strict=True)
        print(f"ours, listed (row in the database): {summary(list(listed))}")
        print(f"ours, stored (body parsed and stored): {summary(list(stored))} "
              f"(goal: median < 1 s)")
        print(f"{args.count} deliveries into an INBOX of {args.mailbox} messages; "
              f"median stored / floor: "
              f"{statistics.median(stored) / statistics.median(floor_seconds):.1f}x")
    finally:
        stop_redis()
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
