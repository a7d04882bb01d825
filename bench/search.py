"""Search benchmark: 100,000 messages bulk-inserted, then typical queries timed.

    .venv/bin/python bench/search.py --backend sqlite   [--count 100000] [--seed 1]
    .venv/bin/python bench/search.py --backend postgres [--pg-url postgres://postgres@127.0.0.1:5432/postgres]

Rows are inserted directly (bulk_create, as a first sync does), with texts drawn from
the generator's vocabularies (English, accented and German compound words, Cyrillic,
Japanese) plus a long tail of 20,000 invented words with Zipf frequencies, so that word
selectivity looks like a real mailbox rather than 100 words in every message. The
triggers index while inserting; reindex_all() is timed too (indexing alone). Each
query runs through search_messages(), the whole path a page uses (count of pending
bodies, match, rank, 50 hits with snippets). Prints p50/p95 per query kind, index size
and indexing rate. SQLite uses a throwaway file; PostgreSQL a throwaway database.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generator import CYRILLIC, ENGLISH, JAPANESE, LATIN_ACCENTED, SENDERS  # noqa: E402

BATCH = 2_000
PG_DB = "webmail_bench_search"
SYLLABLES = ("ka", "ri", "to", "mo", "ne", "sa", "lu", "vi", "den", "bar", "tel", "gor",
             "pra", "sen", "mis", "fal", "dor", "kin", "ost", "ber", "wen", "zu", "lo", "ta",
             "qua", "pen", "rix", "sol")


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    invented = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(24_000)}
    tail = sorted(invented)[:20_000]
    rng.shuffle(tail)
    words = ENGLISH + LATIN_ACCENTED + CYRILLIC + JAPANESE + tail
    # Zipf: the i-th most frequent word has weight 1/(i+1).
    weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(words))))
    return words, weights


class Texts:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words, self.cum = vocabulary(self.rng)
        contacts = [(p.name, p.address) for p in SENDERS]
        for i in range(500):
            first = "".join(self.rng.choices(SYLLABLES, k=2)).capitalize()
            last = "".join(self.rng.choices(SYLLABLES, k=3)).capitalize()
            contacts.append((f"{first} {last}", f"{first.lower()}.{i}@example{i % 40}.com"))
        self.contacts = contacts
        self.samples: list[list[str]] = []

    def text(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=n)

    def message(self, index: int, count: int) -> dict[str, Any]:
        rng = self.rng
        subject = " ".join(self.text(rng.randint(3, 8))).capitalize()
        n_words = int(min(3000, rng.lognormvariate(5.0, 0.8)))  # median ~150 words
        body = self.text(n_words)
        if len(self.samples) < 400 and len(body) > 20:
            self.samples.append(body)
        name, address = rng.choice(self.contacts)
        has_attachment = rng.random() < 0.18
        names = [f"{rng.choice(('invoice', 'scan', 'report', 'photo'))}_{index}.pdf"] \
            if has_attachment else []
        date = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(
            seconds=int(index / count * 6 * 365 * 86400) + rng.randint(0, 3600))
        text = " ".join(body)
        return {
            "subject": subject, "from_name": name, "from_address": address,
            "to": [["Test User", "user@example.test"]], "date": date,
            "size": len(text) + (rng.randint(20_000, 300_000) if has_attachment else 2_000),
            "has_attachments": has_attachment, "attachment_names": names,
            "is_seen": rng.random() < 0.8, "is_flagged": rng.random() < 0.03,
            "snippet": text[:200], "body_state": "full",
            "search_text": f"{subject}\n{name} <{address}> Test User <user@example.test>\n"
                           f"{text}\n" + "\n".join(names),
        }


def setup_django(backend: str, pg_url: str) -> None:
    os.environ.setdefault("WEBMAIL_HTTPS", "false")
    os.environ["WEBMAIL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-search-")
    if backend == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['WEBMAIL_DATA_DIR']}/bench.sqlite3"
    else:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        os.environ["DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/" + PG_DB
    os.environ["DJANGO_SETTINGS_MODULE"] = "webmail.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(count: int, seed: int) -> tuple[Any, Texts, float]:
    from accounts.models import MailAccount, User
    from webmail.mail.models import Folder, Message

    user = User.objects.create_user("bench", password="x")  # noqa: S106
    account = MailAccount.objects.create(owner=user, email="bench@example.test",
                                         incoming_host="127.0.0.1", incoming_username="b")
    folders = [Folder.objects.create(account=account, name=n, role=r) for n, r in
               (("INBOX", "inbox"), ("Sent", "sent"), ("Archive", "archive"))]
    texts = Texts(seed)
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        rows = [Message(account=account, folder=folders[0 if i % 10 < 8 else i % 10 - 7],
                        uidvalidity=1, uid=i + 1, **texts.message(i, count))
                for i in range(first, min(count, first + BATCH))]
        Message.objects.bulk_create(rows)
        print(f"\r  inserted {first + len(rows):,}", end="", flush=True)
    print()
    return user, texts, time.perf_counter() - started


def index_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size('search_search_document')")
        else:
            cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_fts%'")
        return int(cursor.fetchone()[0] or 0)


def text_size() -> int:
    from django.db.models import Sum
    from django.db.models.functions import Length

    from webmail.mail.models import Message

    return int(Message.objects.aggregate(n=Sum(Length("search_text")))["n"] or 0)


def queries(texts: Texts, rng: random.Random, n: int) -> dict[str, list[str]]:
    # Words of middling frequency (ranks 50-2000 of the Zipf list) plus the named
    # vocabularies, the kind of word people search for.
    mid = texts.words[50:2000]
    named = [w for w in LATIN_ACCENTED + CYRILLIC if len(w) >= 3]
    pick = lambda: rng.choice(mid if rng.random() < 0.7 else named)  # noqa: E731
    phrases = []
    for body in rng.sample(texts.samples, n):
        i = rng.randrange(len(body) - 2)
        phrases.append(f'"{body[i]} {body[i + 1]}"')
    senders = [name.split()[0] for name, _ in texts.contacts]
    ranges = []
    for _ in range(n):
        start = datetime(2019, 1, 1) + timedelta(days=rng.randint(0, 6 * 365 - 90))
        end = start + timedelta(days=rng.choice((30, 90, 365)))
        ranges.append(f"has:attachment after:{start:%Y-%m-%d} before:{end:%Y-%m-%d}")
    return {
        "one word": [pick() for _ in range(n)],
        "two words": [f"{pick()} {rng.choice(ENGLISH)}" for _ in range(n)],
        "phrase": phrases,
        "from: + word": [f"from:{rng.choice(senders)} {rng.choice(ENGLISH)}" for _ in range(n)],
        "has:attachment + dates": ranges,
        "common word (info)": [rng.choice(ENGLISH[:20]) for _ in range(n)],
        "date order, one word (info)": [pick() for _ in range(n)],
    }


def _server_cpu() -> Any:
    """A function returning the PostgreSQL backend's CPU seconds so far (schedstat, in
    ns: the server runs on this machine), or None when it cannot be read."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        # The leader alone does the work, so its CPU time is the query's whole cost.
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT pg_backend_pid()")
        path = Path(f"/proc/{cursor.fetchone()[0]}/schedstat")
    if not path.exists():
        return None
    return lambda: int(path.read_text().split()[0]) / 1e9


def run_queries(user: Any, sets: dict[str, list[str]]) -> None:
    from webmail.search.service import search_messages

    # CPU ms of this process too: on SQLite that is the whole query's work, a figure
    # that other load on the machine does not inflate. On PostgreSQL "server cpu" adds
    # the backend's own CPU time (from /proc), so cpu + server cpu is the work done.
    server = _server_cpu()
    print(f"{'query':30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p95':>8} "
          f"{'cpu+srv p50':>12} {'cpu+srv p95':>12} {'hits/page':>10}")
    for kind, items in sets.items():
        order = "date" if "date order" in kind else "relevance"
        for q in items[:5]:  # warm the caches the way a running server has them
            search_messages(user, q, order=order)
        times, cpu, work, hits = [], [], [], []
        for q in items:
            started_server = server() if server else 0.0
            started, started_cpu = time.perf_counter(), time.process_time()
            results = search_messages(user, q, order=order)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            work.append(cpu[-1] + ((server() - started_server) * 1000 if server else 0.0))
            hits.append(len(results.hits))
        p95 = statistics.quantiles(times, n=20)[-1]
        cpu95 = statistics.quantiles(cpu, n=20)[-1]
        work95 = statistics.quantiles(work, n=20)[-1]
        print(f"{kind:30} {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f} "
              f"{cpu95:8.1f} {statistics.median(work):12.1f} {work95:12.1f} "
              f"{statistics.mean(hits):10.1f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=40, help="queries per kind")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-reindex", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database for --reuse runs")
    parser.add_argument("--reuse", metavar="DATABASE_URL",
                        help="query a database an earlier run loaded (same count and seed)")
    args = parser.parse_args()
    if args.reuse:
        reuse(args)
        return
    setup_django(args.backend, args.pg_url)
    from django.db import connection

    print(f"backend: {connection.vendor}, {args.count:,} messages, seed {args.seed}")
    user, texts, load_seconds = load(args.count, args.seed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        from webmail.search.indexing import optimize_index

        started = time.perf_counter()
        optimize_index()  # what `search_reindex --optimize` does after a first sync
        print(f"FTS5 optimize: {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    size, text = index_size(), text_size()
    print(f"insert with index triggers: {load_seconds:.1f} s, "
          f"{args.count / load_seconds:,.0f} messages/s")
    print(f"indexed text: {text / 1e6:.1f} MB; index size: {size / 1e6:.1f} MB")
    if not args.skip_reindex:
        from webmail.search.indexing import reindex_all

        started = time.perf_counter()
        reindex_all()
        seconds = time.perf_counter() - started
        print(f"reindex_all: {seconds:.1f} s, {args.count / seconds:,.0f} messages/s, "
              f"{text / 1e6 / seconds:.1f} MB text/s")
    run_queries(user, queries(texts, random.Random(args.seed + 1), args.queries))
    if connection.vendor == "postgresql" and not args.keep:
        connection.close()
        import psycopg

        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")


def reuse(args: argparse.Namespace) -> None:
    os.environ.setdefault("WEBMAIL_HTTPS", "false")
    os.environ.setdefault("WEBMAIL_DATA_DIR", tempfile.mkdtemp(prefix="bench-search-"))
    os.environ["DATABASE_URL"] = args.reuse
    os.environ["DJANGO_SETTINGS_MODULE"] = "webmail.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User

    call_command("migrate", verbosity=0)
    texts = Texts(args.seed)
    index = 0
    while len(texts.samples) < 400:  # the same texts as the load, for phrase queries
        texts.message(index, args.count)
        index += 1
    print(f"backend: {connection.vendor}, reused database, seed {args.seed}")
    print(f"index size: {index_size() / 1e6:.1f} MB")
    run_queries(User.objects.get(username="bench"),
                queries(texts, random.Random(args.seed + 1), args.queries))


if __name__ == "__main__":
    main()
