"""Send benchmark: relay rate from a queue of 1,000, and Send → 250 latency (undo off).

    .venv/bin/python -m bench.send [--count 1000] [--latency 50] [--concurrency 4]

Starts the SMTP test server (tests/servers/smtp.py, STARTTLS + AUTH, the session test
CA) in this process and real Celery workers (`celery worker`, prefork) in a subprocess
on a private Redis database number, with a fresh SQLite database and blob directory.

- rate: `count` outbox rows are queued (undo window 0), handed to the workers at once
  through beat's dispatch path, and the clock stops when the server has accepted every
  one; each relay is a full SMTP session (connect, STARTTLS, AUTH, MAIL/RCPT/DATA).
- latency: `latency` messages, one at a time, from the Send action (build + outbox
  row + enqueue, what the view does) to the server's 250 for DATA; median and p90.
  Goal: median under 300 ms.

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REDIS_DB = 13  # away from the tests' database 0, so no test worker takes our tasks


def environment(data_dir: str, ca_file: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "webmail.settings",
        "WEBMAIL_DATA_DIR": data_dir,
        "WEBMAIL_HTTPS": "false",
        "WEBMAIL_ALLOW_PRIVATE_HOSTS": "true",
        "WEBMAIL_EXTRA_CA_FILE": ca_file,
        "WEBMAIL_UNDO_SECONDS": "0",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "LOG_LEVEL": "WARNING",
    })
    return env


def start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "webmail", "worker", "-P", "prefork",
         "-c", str(concurrency), "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-l", os.environ.get("BENCH_WORKER_LOG", "WARNING")],
        env=env, cwd=ROOT, start_new_session=True,
    )


def wait_accepted(smtp: object, total: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while len(smtp.accepted) < total:  # type: ignore[attr-defined]
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {len(smtp.accepted)} of {total} accepted in time")  # type: ignore[attr-defined]
        time.sleep(0.001)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default="",
                        help="e.g. postgres://postgres@127.0.0.1:5432/webmail_bench "
                             "(default: a fresh SQLite file)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-send-")
    from tests.servers.smtp import SMTPServer
    from tests.servers.tls import make_test_certificates

    tls = make_test_certificates(Path(tmp) / "tls")
    env = environment(str(Path(tmp) / "data"), tls.ca_file)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    os.environ.update(env)
    import django
    from django.utils import timezone

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from accounts.models import MailAccount, User
    from webmail.celery import app
    from webmail.compose import outbox
    from webmail.compose.builder import OutgoingMessage, build_message
    from webmail.compose.headers import Mailbox
    from webmail.compose.models import Outbox, OutboxState
    from webmail.compose.tasks import relay_task

    app.control.purge()
    smtp = SMTPServer(tls)
    smtp.start()
    user = User.objects.create_user("alice", password=None)
    account = MailAccount(owner=user, email="alice@example.org", incoming_host="127.0.0.1",
                          incoming_username="alice", smtp_host="127.0.0.1",
                          smtp_port=smtp.starttls_port, smtp_security="starttls")
    account.set_incoming_password("alice-pw")
    account.save()

    def built(n: int) -> object:
        return build_message(OutgoingMessage(
            sender=Mailbox("Alice", "alice@example.org"),
            to=[Mailbox("Bob", "bob@example.net")], subject=f"Benchmark message {n}",
            html=f"<p>Message <b>{n}</b> of the benchmark.</p>" + "<p>Lorem ipsum.</p>" * 40,
        ))

    worker = start_worker(env, args.concurrency)
    try:
        # Warm up: the workers are up and have imported everything.
        first = outbox.queue_message(owner=user, account=account, built=built(0),  # type: ignore[arg-type]
                                     subject="warm-up", undo_seconds=0)
        wait_accepted(smtp, 1, 60)
        smtp.reset()

        # -- rate from a queue of `count` ------------------------------------------------
        # Rows scheduled far ahead are not handed to workers; then all become due at once.
        later = timezone.now() + timedelta(hours=1)
        ids = [outbox.queue_message(owner=user, account=account, built=built(n),  # type: ignore[arg-type]
                                    subject="rate", undo_seconds=0, scheduled_at=later).pk
               for n in range(args.count)]
        print(f"queued {args.count} rows", flush=True)
        start = time.perf_counter()
        Outbox.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
        for outbox_id in ids:
            relay_task.delay(outbox_id)
        end = wait_accepted(smtp, args.count, 600)
        sent = Outbox.objects.filter(state=OutboxState.SENT).count()
        elapsed = end - start
        print(f"rate: {args.count} messages in {elapsed:.2f} s = "
              f"{args.count / elapsed:.1f} messages/s with {args.concurrency} worker "
              f"processes ({sent} rows marked sent, {len(smtp.accepted)} accepted)")
        # The after-send tasks (Sent copy, contacts) of those rows are queued behind;
        # let them drain so the latency run measures an idle queue.
        deadline = time.perf_counter() + 600
        while Outbox.objects.filter(sent_copy="pending").exists():
            if time.perf_counter() > deadline:
                raise SystemExit("after-send tasks did not drain")
            time.sleep(0.2)
        print(f"after-send tasks drained {time.perf_counter() - end:.1f} s later", flush=True)
        smtp.reset()

        # -- Send -> 250 latency, undo off --------------------------------------------------
        latencies: list[float] = []
        pickups: list[float] = []
        for n in range(args.latency):
            message = built(n)
            t0 = time.perf_counter()
            row = outbox.queue_message(owner=user, account=account, built=message,  # type: ignore[arg-type]
                                       subject="latency", undo_seconds=0)
            t1 = wait_accepted(smtp, n + 1, 30)
            latencies.append((t1 - t0) * 1000)
            time.sleep(0.05)
            row.refresh_from_db()
            if row.sending_started_at and row.sent_at:
                pickups.append((row.sending_started_at - row.created_at).total_seconds() * 1000)
        latencies.sort()
        p90 = latencies[int(len(latencies) * 0.9) - 1]
        print(f"latency Send -> 250: median {statistics.median(latencies):.0f} ms, "
              f"p90 {p90:.0f} ms, min {latencies[0]:.0f} ms, max {latencies[-1]:.0f} ms "
              f"over {len(latencies)} messages (goal: median under 300 ms); "
              f"from the row's creation to a worker's claim: median "
              f"{statistics.median(pickups or [0]):.0f} ms")
        del first
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        smtp.stop()


if __name__ == "__main__":
    main()
