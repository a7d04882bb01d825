"""Project-wide tasks."""

from __future__ import annotations

from celery import shared_task


@shared_task
def ping() -> str:
    """Answers "pong": lets operators and tests see that a worker consumes the queue."""
    return "pong"
