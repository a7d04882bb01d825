"""What one person does in the load test (run by bench/load.py through locust).

Each simulated person signs in once as the next site user (load001, load002... and round
again past the last one: a second browser of the same person), then, with a think time
between actions, browses lists, opens messages (the reader fragment and its body frame,
as the browser loads them), searches and sends; meanwhile the open page polls
/mail/changes/ like the page's htmx heartbeat. Request names are the figures' rows:
list, open, body, search, compose, send, poll, login form, login.

Every request is recorded (start time, name, milliseconds, ok) and written as JSON lines
to BENCH_LOAD_RECORD when locust quits: bench/load.py computes the percentiles per step
from those, not from locust's own cumulative statistics.

Configuration comes from the environment (bench/load.py sets it):
BENCH_LOAD_USERS (site users), BENCH_LOAD_PASSWORD, BENCH_LOAD_STEPS ("50:60,100:60":
users and seconds of each step), BENCH_LOAD_SPAWN_RATE, BENCH_LOAD_THINK ("5:15"
seconds), BENCH_LOAD_POLL (seconds between heartbeats, 0 for none), BENCH_LOAD_RECORD.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import HttpUser, LoadTestShape, between, events, task
from locust.env import Environment

SITE_USERS = int(os.environ.get("BENCH_LOAD_USERS", "2"))
PASSWORD = os.environ.get("BENCH_LOAD_PASSWORD", "")
THINK_MIN, THINK_MAX = (float(x) for x in os.environ.get("BENCH_LOAD_THINK", "5:15").split(":"))
POLL_SECONDS = float(os.environ.get("BENCH_LOAD_POLL", "5"))
RECORD = os.environ.get("BENCH_LOAD_RECORD", "")
# Every kind of request once after signing in, then the weighted mix: a short smoke run
# otherwise may, by chance, never send.
TOUR = os.environ.get("BENCH_LOAD_TOUR", "") == "1"

# Words the generated mailboxes use (bench/generator.py): searches with hits, some
# with many, and one sender-operator query.
SEARCHES = ["invoice", "meeting", "report", "project", "budget", "holiday", "travel",
            "review", "from:news", "has:attachment", "Zürich", "price"]
HTMX = {"HX-Request": "true"}

_next_person = itertools.count()
_records: list[tuple[float, str, float, bool]] = []


@events.request.add_listener  # type: ignore[untyped-decorator]
def _record(request_type: str, name: str, response_time: float, response_length: int,
            exception: BaseException | None, start_time: float = 0.0, **kwargs: Any) -> None:
    _records.append((start_time, name, response_time, exception is None))


_started: list[float] = []


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _mark_start(environment: Environment, **kwargs: Any) -> None:
    _started.append(time.time())


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_records(environment: Environment, **kwargs: Any) -> None:
    """The first line is the test's start (the steps' clock), then one line a request."""
    if RECORD:
        with open(RECORD, "w") as out:
            out.write(json.dumps(["start", _started[0] if _started else 0.0]) + "\n")
            for start, name, ms, ok in _records:
                out.write(json.dumps([start, name, ms, ok]) + "\n")


def steps() -> list[tuple[int, float]]:
    """BENCH_LOAD_STEPS as (users, seconds) pairs."""
    text = os.environ.get("BENCH_LOAD_STEPS", "2:10")
    return [(int(u), float(s)) for u, s in (part.split(":") for part in text.split(","))]


class StepRamp(LoadTestShape):
    """Hold each number of users for its seconds, then the next; stop after the last."""

    def tick(self) -> tuple[int, float] | None:
        elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]
        rate = float(os.environ.get("BENCH_LOAD_SPAWN_RATE", "10"))
        for users, seconds in steps():
            if elapsed < seconds:
                return users, rate
            elapsed -= seconds
        return None


class Person(HttpUser):
    wait_time = between(THINK_MIN, THINK_MAX)

    def on_start(self) -> None:
        self.name = f"load{next(_next_person) % SITE_USERS + 1:03d}"
        self.message_ids: list[str] = []
        self.folder_ids: list[str] = []
        self.version = ""
        self.signed_in = self._sign_in()
        if self.signed_in and POLL_SECONDS > 0:
            self._poller = gevent.spawn(self._poll_forever)
        if self.signed_in and TOUR:
            self.browse_list()
            self.open_message()
            self.search()
            self.send()

    def on_stop(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.kill(block=False)

    def _csrf(self) -> str:
        return str(self.client.cookies.get("csrftoken", ""))

    def _sign_in(self) -> bool:
        self.client.get("/login/", name="login form")
        with self.client.post(
            "/login/", name="login", catch_response=True,
            data={"username": self.name, "password": PASSWORD,
                  "csrfmiddlewaretoken": self._csrf()},
        ) as response:
            if response.status_code != 200 or "/login/" in response.url:
                response.failure(f"sign-in as {self.name} failed: {response.status_code}")
                return False
            self._remember(response.text)
        return True

    def _remember(self, page: str) -> None:
        ids = re.findall(r'data-id="(\d+)"', page)
        if ids:
            self.message_ids = ids
        folders = re.findall(r'/mail/folder/(\d+)/', page)
        if folders:
            self.folder_ids = sorted(set(folders))
        version = re.search(r'id="live"[^>]*data-version="([^"]*)"', page)
        if version:
            self.version = version.group(1)

    def _poll_forever(self) -> None:
        while True:
            gevent.sleep(POLL_SECONDS)
            self.client.get(f"/mail/changes/?v={self.version}", name="poll", headers=HTMX)

    @task(4)
    def browse_list(self) -> None:
        if not self.signed_in:
            return
        url = f"/mail/folder/{random.choice(self.folder_ids)}/" \
            if self.folder_ids and random.random() < 0.3 else "/"
        response = self.client.get(url, name="list")
        self._remember(response.text)

    @task(4)
    def open_message(self) -> None:
        if not self.signed_in or not self.message_ids:
            return
        message_id = random.choice(self.message_ids)
        self.client.get(f"/mail/message/{message_id}/", name="open",
                        headers={**HTMX, "HX-Target": "reader"})
        self.client.get(f"/mail/message/{message_id}/body/", name="body")

    @task(2)
    def search(self) -> None:
        if not self.signed_in:
            return
        self.client.get("/search/", name="search", params={"q": random.choice(SEARCHES)})

    @task(1)
    def send(self) -> None:
        if not self.signed_in:
            return
        response = self.client.get("/compose/", name="compose")
        draft = re.search(r"/compose/draft/(\d+)/", response.url or "")
        if draft is None:
            return
        with self.client.post(
            f"/compose/draft/{draft.group(1)}/send/", name="send", allow_redirects=False,
            catch_response=True,
            data={"csrfmiddlewaretoken": self._csrf(),
                  "to": f"Friend <friend{random.randrange(1000)}@elsewhere.test>",
                  "subject": f"Load test from {self.name}",
                  "body_html": "<p>Hello from the load test.</p>" * 5,
                  "body_text": "Hello from the load test.\n" * 5},
        ) as sent:
            if sent.status_code != 302:
                sent.failure(f"send answered {sent.status_code}")
