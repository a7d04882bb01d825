from __future__ import annotations

from webmail.tasks import ping


def test_a_real_worker_answers_a_task_over_redis(celery_worker: object) -> None:
    assert ping.delay().get(timeout=20) == "pong"
