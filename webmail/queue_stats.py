"""How the Celery queue is doing, for the admin dashboard: length and oldest task age."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery.signals import before_task_publish
from django.conf import settings

QUEUE = "celery"
SENT_AT_HEADER = "webmail_sent_at"


@before_task_publish.connect
def _stamp_sent_at(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    # Celery's messages carry no enqueue time; the dashboard's "oldest task" needs one.
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, time.time())


@dataclass(frozen=True)
class QueueStats:
    length: int | None
    oldest_age_seconds: float | None
    error: str = ""


def queue_stats(queue: str = QUEUE) -> QueueStats:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2,
                                  socket_connect_timeout=2)
    try:
        key = f"{prefix}{queue}"
        length = int(client.llen(key))
        # Kombu pushes on the left and workers pop from the right: the oldest is last.
        oldest = client.lindex(key, -1)
    except (redis.RedisError, OSError) as exc:
        return QueueStats(None, None, error=f"Broker unreachable: {exc.__class__.__name__}")
    finally:
        client.close()
    return QueueStats(length, _age(oldest))


def _age(message: bytes | None) -> float | None:
    if not message:
        return None
    try:
        sent_at = json.loads(message)["headers"][SENT_AT_HEADER]
    except (ValueError, KeyError, TypeError):
        return None
    return max(0.0, time.time() - float(sent_at))
