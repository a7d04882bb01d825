"""Message list pages at scale: 100,000 messages in one folder, keyset pagination.

    .venv/bin/python -m bench.list_pages                       # SQLite, 100,000 messages
    .venv/bin/python -m bench.list_pages --backend postgres    # PostgreSQL (127.0.0.1)
    .venv/bin/python -m bench.list_pages --backend postgres --reuse  # its rows again
    .venv/bin/python -m bench.list_pages --count 20000 --pages 40

Rows are bulk-created straight into a fresh database (no parsing: the list reads only
envelope columns). Each page is fetched through the Django test client the way the
browser asks for it (an htmx request for the list fragment, then "more rows" with the
cursor), and timed around the request: URL routing, session, the view's queries and
template rendering, i.e. server time without the network. Printed per sort: p50/p95 of
the first page (repeated) and of the following pages, and the queries per page.

Wall time counts waiting for a busy machine too; CPU time (process_time: the test
client, the view and SQLite all run in this process) is what the request itself costs,
and is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

BATCH = 5_000  # rows per bulk_create: one transaction, bounded memory
PG_DB = "webmail_bench_list"
EMAIL = "bench@example.test"
WORDS = [
    "invoice", "report", "meeting", "lunch", "travel", "plans", "weekly", "update", "project",
    "budget", "review", "holiday", "photos", "contract", "draft", "offer", "question",
    "answer", "team", "launch", "notes",
]


def setup_django(backend: str, pg_url: str, reuse: bool = False) -> None:
    os.environ.setdefault("WEBMAIL_HTTPS", "false")
    os.environ["WEBMAIL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-list-")
    if backend == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['WEBMAIL_DATA_DIR']}/bench.sqlite3"
    else:
        import psycopg

        if not reuse:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
                conn.execute(f"CREATE DATABASE {PG_DB}")
        os.environ["DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/" + PG_DB
    os.environ["DJANGO_SETTINGS_MODULE"] = "webmail.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    # Static files are not collected here; the list page links them by plain name.
    settings.STORAGES["staticfiles"] = {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    call_command("migrate", verbosity=0)


def load(count: int, seed: int) -> tuple[Any, Any]:
    from accounts.models import MailAccount, User
    from webmail.mail.models import Folder, Message

    rng = random.Random(seed)
    user = User.objects.create_user("bench", password="x")  # noqa: S106
    account = MailAccount.objects.create(owner=user, email=EMAIL,
                                         incoming_host="127.0.0.1", incoming_username="b")
    folder = Folder.objects.create(account=account, name="INBOX", role="inbox")
    start = datetime(2019, 1, 1, tzinfo=UTC)
    names = [f"Person {i}" for i in range(500)] + [""] * 100
    began = time.perf_counter()
    for first in range(0, count, BATCH):
        rows = []
        for i in range(first, min(count, first + BATCH)):
            subject = " ".join(rng.choices(WORDS, k=rng.randint(2, 7)))
            name = rng.choice(names)
            rows.append(Message(
                account=account, folder=folder, uidvalidity=1, uid=i + 1,
                subject=subject.capitalize(), from_name=name,
                from_address=f"p{rng.randint(0, 999)}@example.test",
                # Many messages share a minute: ties on the date are where keysets break.
                date=start + timedelta(minutes=rng.randint(0, 3_000_000)),
                size=rng.randint(500, 2_000_000), is_seen=rng.random() < 0.8,
                is_flagged=rng.random() < 0.03, has_attachments=rng.random() < 0.2,
                snippet=" ".join(rng.choices(WORDS, k=30)), body_state="full",
            ))
        Message.objects.bulk_create(rows)
        print(f"\r  inserted {first + len(rows):,}", end="", flush=True, file=sys.stderr)
    print(f"\r  inserted {count:,} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    folder.total_count = count
    folder.unread_count = Message.objects.filter(folder=folder, is_seen=False).count()
    folder.save()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE mail_message")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return user, folder


def _more_url(html: str) -> str | None:
    marker = html.find('id="more-rows"')
    if marker < 0:
        return None
    start = html.index('hx-get="', marker) + len('hx-get="')
    return html[start:html.index('"', start)].replace("&amp;", "&")


def measure(client: Any, url: str, target: str) -> tuple[float, float, int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        began, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET=target)
        elapsed = (time.perf_counter() - began) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000
    assert response.status_code == 200, response.status_code
    return elapsed, cpu_ms, len(queries), response.content.decode()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=60, help="next pages walked per sort")
    parser.add_argument("--repeat", type=int, default=30, help="first-page repetitions")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help=f"PostgreSQL: measure the {PG_DB} database an earlier run left")
    args = parser.parse_args()

    reuse = args.reuse and args.backend == "postgres"
    setup_django(args.backend, args.pg_url, reuse)
    from django.test import Client
    from django.urls import reverse

    if reuse:
        from webmail.mail.models import Folder

        folder = Folder.objects.select_related("account__owner").get(account__email=EMAIL)
        user = folder.account.owner
    else:
        user, folder = load(args.count, args.seed)
    client = Client()
    client.force_login(user)
    base = reverse("folder", args=[folder.pk])
    client.get(base)  # warm: template loading, first-request setup
    print(f"{args.count:,} messages in one folder, {args.backend}; "
          f"{args.repeat} first pages and {args.pages} next pages per sort, 50 rows a page")
    print("times in ms: wall p50/p95, then CPU p50/p95")
    print(f"{'sort':8} {'first page wall':>16} {'cpu':>12} {'next pages wall':>16} {'cpu':>12} "
          f"{'queries/page':>13} {'pages':>6}")
    for sort in ("date", "sender", "subject", "size"):
        url = f"{base}?sort={sort}"
        firsts, first_cpu, counts = [], [], set()
        html = ""
        for _ in range(args.repeat):
            elapsed, cpu, queries, html = measure(client, url, "list-pane")
            firsts.append(elapsed)
            first_cpu.append(cpu)
            counts.add(queries)
        nexts, next_cpu = [], []
        more = _more_url(html)
        for _ in range(args.pages):
            if more is None:
                break
            elapsed, cpu, queries, page = measure(client, more, "more-rows")
            nexts.append(elapsed)
            next_cpu.append(cpu)
            counts.add(queries)
            more = _more_url(page)

        def pair(values: list[float]) -> str:
            return f"{statistics.median(values):.1f}/{p95(values):.1f}"

        print(f"{sort:8} {pair(firsts):>16} {pair(first_cpu):>12} {pair(nexts):>16} "
              f"{pair(next_cpu):>12} {','.join(map(str, sorted(counts))):>13} "
              f"{len(nexts) + 1:>6}")


if __name__ == "__main__":
    main()
