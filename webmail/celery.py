"""The Celery app: settings come from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")

app = Celery("webmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["webmail", "webmail.sync", "webmail.compose"])

# Stamps each task with its enqueue time for the admin's queue statistics.
import webmail.queue_stats  # noqa: E402,F401
