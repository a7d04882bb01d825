from __future__ import annotations

import time

from django.test import Client
from django.urls import reverse

from tests.conftest import make_user
from webmail.queue_stats import queue_stats
from webmail.tasks import ping


def test_queue_length_and_oldest_age_are_read_from_the_broker(db: None) -> None:
    # A queue no worker consumes, so the tasks wait there.
    before = queue_stats("stats-test").length or 0
    ping.apply_async(queue="stats-test")
    time.sleep(0.3)
    ping.apply_async(queue="stats-test")
    stats = queue_stats("stats-test")
    assert stats.length == before + 2
    assert stats.oldest_age_seconds is not None and stats.oldest_age_seconds >= 0.25

    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Tasks waiting" in page
