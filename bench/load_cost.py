"""What each request of the load test costs alone: CPU milliseconds in one process.

    python -m bench.load_cost --person load001 [--repeat 20]

Run by bench/load.py on the load test's site after the load (same environment), so the
database holds what the load left. Each kind of request is made `repeat` times in a row
through Django's test client, signed in as one person, and timed with process_time: the
client, the view, the ORM and (on SQLite) the database all run in this process, so on a
machine shared with other work this is the steady figure, where wall time is not.
Prints one JSON object: {name: median CPU ms}; capacity follows as cores / cost.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable

from django.test import Client


def _timed(repeat: int, call: Callable[[], object]) -> float:
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        call()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def costs(person: str, repeat: int) -> dict[str, float]:
    from accounts.models import User

    client = Client(raise_request_exception=True)
    client.force_login(User.objects.get(username=person))
    page = client.get("/").content.decode()
    message_id = re.findall(r'data-id="(\d+)"', page)[0]
    calls: dict[str, Callable[[], object]] = {
        "list": lambda: client.get("/"),
        "open": lambda: client.get(f"/mail/message/{message_id}/", headers={
            "HX-Request": "true", "HX-Target": "reader"}),
        "body": lambda: client.get(f"/mail/message/{message_id}/body/"),
        "search": lambda: client.get("/search/", {"q": "invoice"}),
        "poll": lambda: client.get("/mail/changes/?v=x", headers={"HX-Request": "true"}),
        "compose": lambda: client.get("/compose/", follow=True),
    }
    result = {name: round(_timed(repeat, call), 1) for name, call in calls.items()}
    client.get("/")  # warm
    result["login"] = round(_timed(max(3, repeat // 5), lambda: Client().post("/login/", {
        "username": person, "password": os.environ["BENCH_LOAD_PASSWORD"]})), 1)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--person", default="load001")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    json.dump(costs(args.person, args.repeat), sys.stdout)


if __name__ == "__main__":
    main()
