"""Parse-and-sanitize throughput: the shared MIME corpus and a generated mailbox.

What opening a message costs the server before any template: parse_message on the raw
bytes, then sanitize_html on the HTML body (the cold path; a warm open reads the
sanitized HTML from the cache and skips both). Messages are generated before each one
is timed, so only parse + sanitize are measured.

    .venv/bin/python -m bench.parse                      # corpus x5 and 10,000 generated
    .venv/bin/python -m bench.parse --count 1000 --rounds 1 --json
    .venv/bin/python -m bench.parse --count 0 --pages 300   # + message page open times

--pages N stores N generated messages in a throwaway test database and opens each
through the web UI in-process (Django's test client, so server time only): the message
page and its body frame, cold (nothing cached) and then warm (sanitized body cached).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mime"


def _setup_django() -> None:
    # The sanitizer imports nothing from Django, but the parsing package lives in the
    # project: keep the import path and settings the tests use.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def measure(messages: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
    from webmail.parsing.mime import parse_message
    from webmail.parsing.sanitize import sanitize_html

    parse_times: list[float] = []
    totals: list[float] = []
    cpu = 0.0
    slowest: list[tuple[float, str]] = []
    size = html_count = 0
    for name, raw in messages:
        cpu_started, started = time.process_time(), time.perf_counter()
        parsed = parse_message(raw)
        parsed_at = time.perf_counter()
        if parsed.html:
            sanitize_html(parsed.html, allow_remote=True, proxy_url=lambda url: "/p")
            html_count += 1
        finished = time.perf_counter()
        cpu += time.process_time() - cpu_started
        parse_times.append(parsed_at - started)
        totals.append(finished - started)
        slowest = sorted([*slowest, (finished - started, name)], reverse=True)[:3]
        size += len(raw)
    totals_sorted = sorted(totals)
    busy = sum(totals)
    return {
        "messages": len(totals),
        "with_html": html_count,
        "megabytes": round(size / 1e6, 1),
        "messages_per_second": round(len(totals) / busy, 1) if busy else 0.0,
        "megabytes_per_second": round(size / 1e6 / busy, 1) if busy else 0.0,
        "p50_ms": round(_percentile(totals_sorted, 0.50) * 1000, 2),
        "p95_ms": round(_percentile(totals_sorted, 0.95) * 1000, 2),
        "p99_ms": round(_percentile(totals_sorted, 0.99) * 1000, 2),
        "max_ms": round(totals_sorted[-1] * 1000, 2) if totals_sorted else 0.0,
        "parse_share": round(sum(parse_times) / busy, 2) if busy else 0.0,
        # CPU seconds: the figure to compare when the machine is shared and busy.
        "cpu_messages_per_second": round(len(totals) / cpu, 1) if cpu else 0.0,
        "slowest": [f"{name} {seconds * 1000:.0f} ms" for seconds, name in slowest],
    }


def corpus_messages(root: Path, rounds: int) -> Iterator[tuple[str, bytes]]:
    files = [(str(p.relative_to(root)), p.read_bytes())
             for p in sorted(root.rglob("*")) if p.is_file()]
    for _ in range(rounds):
        yield from files


def generated_messages(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    from bench.generator import generate_mailbox

    for number, raw in enumerate(generate_mailbox(count, seed=seed)):
        yield f"generated #{number}", raw


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(_percentile(ordered, 0.5) * 1000, 1),
            "p95_ms": round(_percentile(ordered, 0.95) * 1000, 1)}


def measure_pages(count: int, seed: int, profile: str = "") -> dict[str, Any]:
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from accounts.models import MailAccount, User
    from webmail.mail.ingest import store_full_message
    from webmail.mail.models import Folder, Message

    # A private in-process cache: clearing the shared Redis would take the broker's
    # queues and everyone else's keys with it. No setup_test_environment(): its template
    # instrumentation would be measured too.
    private_cache = override_settings(ALLOWED_HOSTS=["testserver"], CACHES={"default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}})
    private_cache.enable()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = User.objects.create_user(username="bench", password="x" * 12)  # noqa: S106
        account = MailAccount.objects.create(owner=user, email="bench@example.test",
                                             incoming_host="127.0.0.1")
        folder = Folder.objects.create(account=account, name="INBOX", role="inbox")
        ids = []
        for number, (_, raw) in enumerate(generated_messages(count, seed)):
            message = Message(account=account, folder=folder, uidvalidity=1, uid=number + 1)
            message.save()
            store_full_message(message, raw)
            ids.append(message.pk)
        client = Client()
        client.force_login(user)
        timings: dict[str, list[float]] = {"cold": [], "warm": [], "cold_cpu": [],
                                           "warm_cpu": []}
        cache.clear()
        profiler = None
        for phase in ("cold", "warm"):
            if phase == "warm" and profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            for pk in ids:
                cpu, started = time.process_time(), time.perf_counter()
                page = client.get(reverse("message", args=[pk]))
                frame = client.get(reverse("message_body", args=[pk]))
                timings[phase].append(time.perf_counter() - started)
                timings[phase + "_cpu"].append(time.process_time() - cpu)
                assert page.status_code == frame.status_code == 200, (page, frame)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        return {"messages": len(ids),
                **{f"page_and_frame_{name}": _ms(values) for name, values in timings.items()}}
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        private_cache.disable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the corpus")
    parser.add_argument("--count", type=int, default=10_000, help="generated messages")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=0, help="messages to open in the UI")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="cProfile stats of the warm opens (with --pages)")
    args = parser.parse_args(argv)
    _setup_django()
    results: dict[str, Any] = {}
    if args.corpus.is_dir():
        # One untimed pass first: imports, regex compilation and codec lookups.
        measure(corpus_messages(args.corpus, 1))
        results["corpus"] = measure(corpus_messages(args.corpus, args.rounds))
    if args.count:
        results["generated"] = measure(generated_messages(args.count, args.seed))
    if args.pages:
        results["pages"] = measure_pages(args.pages, args.seed, args.profile)

    if args.json:
        print(json.dumps(results))
        return 0
    pages = results.pop("pages", None)
    for name, figures in results.items():
        print(
            f"{name:10} {figures['messages']:6} msgs ({figures['megabytes']} MB, "
            f"{figures['with_html']} with HTML): {figures['messages_per_second']} msg/s, "
            f"{figures['megabytes_per_second']} MB/s; per message p50 {figures['p50_ms']} ms, "
            f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, "
            f"max {figures['max_ms']} ms; parse {figures['parse_share']:.0%} of the time; "
            f"{figures['cpu_messages_per_second']} msg per CPU second"
        )
        print(f"{'':10} slowest: {'; '.join(figures['slowest'])}")
    if pages:
        print(f"open page + body frame, {pages['messages']} messages, in-process server time:")
        for name in ("cold", "warm", "cold_cpu", "warm_cpu"):
            print(f"{'':10} {name:9} {pages['page_and_frame_' + name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
