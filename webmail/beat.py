"""Celery beat's scheduler with a heartbeat file, for beat's health check.

Beat ticks at least every 15 s here (the outbox dispatch runs that often), so a heartbeat
older than a couple of minutes means a stuck beat. The schedule file cannot tell: some
dbm builds keep their writes in memory until the file is closed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    """PersistentScheduler that touches settings.BEAT_HEARTBEAT_FILE on every tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            Path(settings.BEAT_HEARTBEAT_FILE).touch()
        except OSError:  # a read-only disk must not stop the clock, only fail the check
            log.warning("cannot write beat's heartbeat file %s", settings.BEAT_HEARTBEAT_FILE)
        interval: float = super().tick(*args, **kwargs)
        return interval
