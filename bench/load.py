"""Load test: many people signed in at once, reading, searching and sending while their
mailboxes sync. One command starts everything and prints the figures:

    .venv/bin/python -m bench.load --users 200 --db sqlite
    .venv/bin/python -m bench.load --users 200 --db postgres   # postgres://postgres@127.0.0.1
    .venv/bin/python -m bench.load --users 2 --messages 10 --steps 2 --step-seconds 8  # smoke

What runs, all on this machine, in a fresh temporary directory:

- a private Dovecot (tests/servers) with one user per person and `messages` generated
  messages (bench/generator.py) in each INBOX; an aiosmtpd sink with STARTTLS and AUTH
  (tests/servers/smtp.py, in this process) that records what it accepts; a private
  redis-server;
- the app as `make run` starts it: gunicorn (2 workers x 4 threads), a Celery worker
  (prefork, 2 processes), beat and the IDLE supervisor, on SQLite under the data
  directory (the embedded default) or on a fresh PostgreSQL database;
- `users` people and accounts (bench/load_site.py), a first sync of every account,
  waited for (a cap: --sync-timeout);
- locust (bench/locustfile.py) in a subprocess: a step ramp of signed-in people, each
  browsing, opening, searching and sending with a think time, the page's heartbeat
  polling every few seconds; meanwhile new mail is delivered to random people (IMAP
  APPEND), so IDLE wakes and the worker syncs throughout.

Then it waits for the queues to drain and prints, per step: p50/p95/p99 of each kind of
request, errors and throughput; the throughput at which the p95 of all requests passes
250 ms; whether the store caught up with the server (every delivered message synced)
and the SMTP sink received every message sent (exactly once); errors in the logs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from bench import load_report
from bench.generator import generate_mailbox
from bench.load_site import WEB_PASSWORD, mail_password, person_name

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DISTINCT_MAILBOXES = 20  # people share generated mailboxes (their bytes, not their rows)
P95_LIMIT_MS = 250.0
LOG_PATTERNS = ("database is locked", "Traceback", "ERROR", "WORKER TIMEOUT")


def free_port() -> int:
    from tests.servers.dovecot import free_port as pick

    return pick()


class Site:
    """The app's processes and what they need; stop() ends all of them."""

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp, self.args = tmp, args
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stoppers: list[Any] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def manage(self, *args: str) -> str:
        result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args],
                                env=self.env, cwd=ROOT, capture_output=True, text=True,
                                check=False)
        if result.returncode:
            raise SystemExit(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def python(self, *args: str, extra: dict[str, str] | None = None) -> Any:
        result = subprocess.run([sys.executable, *args], env={**self.env, **(extra or {})},
                                cwd=ROOT,
                                capture_output=True, text=True, check=False)
        if result.returncode:
            raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout)

    def prepare(self, ca_file: str) -> None:
        sys.path.insert(0, str(ROOT / "scripts"))
        from services import ensure_redis  # type: ignore[import-not-found]  # scripts/

        # A private redis-server: no other worker on this machine takes our tasks.

        redis_url, stop_redis = ensure_redis(f"redis://127.0.0.1:{free_port()}/0")
        self.stoppers.append(stop_redis)
        env = {**os.environ,
               "DJANGO_SETTINGS_MODULE": "webmail.settings",
               "WEBMAIL_DATA_DIR": str(self.tmp / "data"),
               "STATIC_ROOT": str(self.tmp / "static"),
               "WEBMAIL_HTTPS": "false",
               "WEBMAIL_ALLOW_PRIVATE_HOSTS": "true",
               "WEBMAIL_EXTRA_CA_FILE": ca_file,
               "REDIS_URL": redis_url,
               "ALLOWED_HOSTS": "127.0.0.1,localhost",
               "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        env.pop("CELERY_BROKER_URL", None)
        env.pop("CELERY_RESULT_BACKEND", None)
        if self.args.db == "postgres":
            import psycopg

            server = self.args.pg_url.rsplit("/", 1)[0]  # the URL's database may not exist
            with psycopg.connect(server + "/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.args.pg_db} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {self.args.pg_db}")
            env["DATABASE_URL"] = server + "/" + self.args.pg_db
        self.env = env
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "-v0")

    def start(self) -> None:
        a = self.args
        commands = {
            "web": [str(BIN / "gunicorn"), "webmail.wsgi", "--bind", f"127.0.0.1:{self.port}",
                    "--workers", str(a.web_workers), "--threads", str(a.web_threads),
                    # Its own control socket: the default path is one per machine.
                    "--control-socket", str(self.tmp / "gunicorn.ctl")],
            "worker": [str(BIN / "celery"), "-A", "webmail", "worker", "--loglevel",
                       "WARNING", "--concurrency", str(a.worker_concurrency)],
            "beat": [str(BIN / "celery"), "-A", "webmail", "beat", "--loglevel", "WARNING",
                     "--schedule", str(self.tmp / "data" / "celerybeat-schedule")],
            "idle": [sys.executable, str(ROOT / "manage.py"), "idle_supervisor"],
        }
        for name, command in commands.items():
            with self.log(name).open("ab") as out:
                self.procs[name] = subprocess.Popen(
                    command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310 - loopback
                    f"{self.url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
            if time.monotonic() > deadline:
                raise SystemExit(f"the app never answered:\n{self.tail('web')}")
            time.sleep(0.5)

    def check_running(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def log_problems(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for name in self.procs:
            text = self.log(name).read_text(errors="replace") if self.log(name).exists() else ""
            for pattern in LOG_PATTERNS:
                if text.count(pattern):
                    found[f"{name}: {pattern}"] += text.count(pattern)
        return dict(found)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for stop in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                stop()

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.python("-m", "bench.load_site", "status")
        return result


class Trickle(threading.Thread):
    """New mail for random people at a steady rate while the load runs."""

    def __init__(self, dovecot: Any, people: list[str], per_minute: float) -> None:
        super().__init__(daemon=True)
        self.dovecot, self.people, self.per_minute = dovecot, people, per_minute
        self.delivered: Counter[str] = Counter()
        self.failures = 0
        self.halt = threading.Event()
        self.mail = list(generate_mailbox(50, seed=999))

    def run(self) -> None:
        if self.per_minute <= 0:
            return
        pause = 60.0 / self.per_minute
        n = 0
        while not self.halt.wait(pause):
            person = random.choice(self.people)  # noqa: S311 - not security
            try:
                self.dovecot.deliver(person, self.mail[n % len(self.mail)])
                self.delivered[person] += 1
            except Exception:  # noqa: BLE001 - counted and reported, the run goes on
                self.failures += 1
            n += 1


def wait_for(what: str, done: Any, timeout: float, site: Site) -> bool:
    """Poll `done()` (a status -> bool|str function) every few seconds; True when done."""
    start = time.monotonic()
    while True:
        site.check_running()
        status = site.status()
        if done(status):
            print(f"{what}: done in {time.monotonic() - start:.0f} s ({status})", flush=True)
            return True
        if time.monotonic() - start > timeout:
            print(f"{what}: NOT done after {timeout:.0f} s ({status})", flush=True)
            return False
        print(f"{what}: {status}", flush=True)
        time.sleep(5 if timeout > 30 else 1)


def ramp(args: argparse.Namespace) -> list[tuple[int, float]]:
    return [(int(users), args.step_seconds) for users in args.steps.split(",")]


def run_locust(site: Site, args: argparse.Namespace, record: Path) -> None:
    steps = ramp(args)
    env = {**os.environ,
           "BENCH_LOAD_USERS": str(args.users), "BENCH_LOAD_PASSWORD": WEB_PASSWORD,
           "BENCH_LOAD_STEPS": ",".join(f"{u}:{s}" for u, s in steps),
           "BENCH_LOAD_SPAWN_RATE": str(args.spawn_rate), "BENCH_LOAD_THINK": args.think,
           "BENCH_LOAD_POLL": str(args.poll), "BENCH_LOAD_RECORD": str(record),
           "BENCH_LOAD_TOUR": "1" if args.tour else ""}
    total = sum(s for _, s in steps)
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "--host", site.url, "--only-summary", "--exit-code-on-error", "0",
               "--loglevel", "WARNING", "--stop-timeout", "10"]
    with site.log("locust").open("ab") as out:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            proc.wait(total + 120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    if not record.exists():
        raise SystemExit(f"locust wrote no records:\n{site.tail('locust')}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    # A plain `kill` must stop the servers and the app too (the finally blocks), not
    # leave a worker, a supervisor and 200 IMAP sessions running at high priority.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=200, help="people on the site")
    parser.add_argument("--messages", type=int, default=200, help="messages per INBOX")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server (its database part is ignored)")
    parser.add_argument("--pg-db", default="webmail_bench_load",
                        help="the bench's database (dropped and created again)")
    parser.add_argument("--steps", default="",
                        help="signed-in people per step, e.g. 50,100,200,300 "
                             "(default: a quarter, half, all, 1.5x of --users)")
    parser.add_argument("--step-seconds", type=float, default=90.0)
    parser.add_argument("--settle-seconds", type=float, default=30.0,
                        help="not measured at the start of each step (sign-ins)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="sign-ins per second")
    parser.add_argument("--think", default="5:15", help="seconds between actions, min:max")
    parser.add_argument("--poll", type=float, default=5.0, help="heartbeat seconds, 0: none")
    parser.add_argument("--deliveries-per-minute", type=float, default=60.0)
    parser.add_argument("--sync-timeout", type=float, default=1200.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--tour", action="store_true",
                        help="each person makes every kind of request once before the mix "
                             "(for short smoke runs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if not args.steps:
        args.steps = ",".join(str(max(1, round(args.users * f))) for f in (0.25, 0.5, 1, 1.5))

    # aiosmtpd's own notes about its API and the plain listener, once per session.
    warnings.filterwarnings("ignore", "Session.login_data is deprecated")
    warnings.filterwarnings("ignore", "auth_required == True but auth_require_tls")
    from tests.servers.dovecot import DovecotServer
    from tests.servers.smtp import SMTPServer
    from tests.servers.tls import make_test_certificates

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    people = [person_name(i) for i in range(1, args.users + 1)]
    credentials = {name: mail_password(name) for name in people}
    tls = make_test_certificates(tmp / "tls")
    dovecot = DovecotServer(tls, users=credentials)
    smtp = SMTPServer(tls, users=credentials)
    site = Site(tmp, args)
    try:
        began = time.monotonic()
        dovecot.start()
        mailboxes = [list(generate_mailbox(args.messages, seed=seed))
                     for seed in range(1, min(DISTINCT_MAILBOXES, args.users) + 1)]
        for index, name in enumerate(people):
            dovecot.deliver_many(name, mailboxes[index % len(mailboxes)])
        smtp.start()
        site.prepare(tls.ca_file)
        print(f"servers and {args.users} x {args.messages} messages ready in "
              f"{time.monotonic() - began:.0f} s ({tmp})", flush=True)
        site.start()
        site.python("-m", "bench.load_site", "create", "--users", str(args.users),
                    "--imap-port", str(dovecot.ports.imap),
                    "--smtp-port", str(smtp.starttls_port))
        expected = args.users * args.messages
        synced = wait_for("first sync", lambda s: s["inbox"] >= expected
                          and s["bodies"] >= expected, args.sync_timeout, site)

        trickle = Trickle(dovecot, people, args.deliveries_per_minute)
        trickle.start()
        record = tmp / "requests.jsonl"
        print(f"locust: steps {args.steps} people, {args.step_seconds:.0f} s each", flush=True)
        run_locust(site, args, record)
        trickle.halt.set()
        trickle.join()

        start, records = load_report.read_records(record)
        sends = sum(1 for r in records if r.name == "send" and r.ok)
        delivered = sum(trickle.delivered.values())
        caught_up = wait_for(
            "drain", lambda s: s["inbox"] >= expected + delivered
            and s["outbox"].get("sent", 0) >= sends and len(smtp.accepted) >= sends,
            args.drain_timeout, site)
        final = site.status()
        figures = load_report.step_figures(start, records, ramp(args), args.settle_seconds)
        # What each request costs alone (CPU in one process): the steady figure on a
        # machine shared with other work, and the capacity it implies.
        cost: dict[str, float] = site.python(
            "-m", "bench.load_cost", "--person", people[0],
            extra={"BENCH_LOAD_PASSWORD": WEB_PASSWORD})
        mix = Counter(r.name for r in records if r.name in cost and r.name != "login")
        mean_cost = sum(cost[n] * k for n, k in mix.items()) / max(1, sum(mix.values()))
        knee = load_report.throughput_at_limit(figures, P95_LIMIT_MS)
        message_ids = Counter(_message_id(a.data) for a in smtp.accepted)
        duplicates = sum(n - 1 for n in message_ids.values() if n > 1)

        print(f"\n== Load test: {args.db}, {args.users} people x {args.messages} messages, "
              f"think {args.think} s, heartbeat {args.poll:g} s, "
              f"gunicorn {args.web_workers}x{args.web_threads}, "
              f"worker x{args.worker_concurrency}, {os.cpu_count()} CPUs ==")
        print(f"first sync {'complete' if synced else 'INCOMPLETE'} before the load")
        for step in figures:
            print(load_report.format_step(step))
        if knee is None:
            print(f"p95 stayed under {P95_LIMIT_MS:.0f} ms at every step")
        else:
            print(f"p95 of all requests passes {P95_LIMIT_MS:.0f} ms at about "
                  f"{knee:.1f} requests/s")
        print("CPU ms per request alone: " + ", ".join(f"{n} {v:g}" for n, v in cost.items())
              + f"; the load's mix averages {mean_cost:.0f} ms, i.e. at most about "
              f"{1000 / mean_cost if mean_cost else 0:.0f} requests/s per free core")
        print(f"new mail delivered during the load: {delivered} ({trickle.failures} "
              f"failed); store {'caught up' if caught_up else 'DID NOT catch up'}: "
              f"{final['inbox']} of {expected + delivered} in INBOXes")
        print(f"sends: {sends} accepted by the app, {len(smtp.accepted)} received by the "
              f"SMTP sink, {duplicates} duplicates; outbox {final['outbox']}")
        problems = site.log_problems()
        print(f"log problems: {problems or 'none'}; accounts with a sync error: "
              f"{final['accounts_with_error']}")
        if args.json:
            args.json.write_text(json.dumps({
                "db": args.db, "users": args.users, "messages": args.messages,
                "steps": [{"users": f.users, "throughput": f.throughput,
                           "rows": [vars(r) for r in [*f.rows, f.total]],
                           "logins": f.logins, "login_errors": f.login_errors}
                          for f in figures],
                "p95_limit_throughput": knee, "cpu_ms": cost, "mix_cpu_ms": mean_cost,
                "synced": synced, "caught_up": caught_up,
                "counts": dict(Counter(r.name for r in records if r.ok)),
                "sends": sends, "received": len(smtp.accepted), "duplicates": duplicates,
                "delivered": delivered, "log_problems": problems, "status": final,
            }, indent=1))
        return 0
    finally:
        site.stop()
        smtp.stop()
        dovecot.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            dovecot.close()


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode(errors="replace")
        if not line.strip():
            break
    return ""


if __name__ == "__main__":
    sys.exit(main())
