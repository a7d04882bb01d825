"""`manage.py healthcheck`: the compose health check of worker-less processes (beat, idle)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from tests.operations.conftest import free_port
from webmail.mail.models import IdleSupervisor
from webmail.sync.idle import Supervisor

pytestmark = pytest.mark.django_db


def test_answers_ok_when_the_database_and_the_broker_answer(
        capsys: pytest.CaptureFixture[str]) -> None:
    call_command("healthcheck")

    assert capsys.readouterr().out.strip() == "ok"


def test_fails_naming_the_broker_when_it_is_away() -> None:
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"), \
            pytest.raises(CommandError, match="broker"):
        call_command("healthcheck")


def test_a_running_idle_supervisor_is_healthy_and_a_silent_one_is_not() -> None:
    with pytest.raises(CommandError, match="idle-test-1 heartbeat"):
        call_command("healthcheck", idle_supervisor="idle-test-1")

    Supervisor("idle-test-1").run_once()
    call_command("healthcheck", idle_supervisor="idle-test-1")

    IdleSupervisor.objects.filter(owner="idle-test-1").update(
        expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CommandError, match="heartbeat"):
        call_command("healthcheck", idle_supervisor="idle-test-1")


def test_a_schedule_file_must_have_been_rewritten_recently(tmp_path: Path) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    with pytest.raises(CommandError, match="not modified"):
        call_command("healthcheck", fresh_file=schedule)

    (tmp_path / "celerybeat-schedule.db").write_bytes(b"shelve")  # dbm's suffix
    call_command("healthcheck", fresh_file=schedule, max_age=60)

    old = time.time() - 120
    os.utime(tmp_path / "celerybeat-schedule.db", (old, old))
    with pytest.raises(CommandError, match="not modified within 60 s"):
        call_command("healthcheck", fresh_file=schedule, max_age=60)


def test_beat_touches_its_heartbeat_on_every_tick(tmp_path: Path) -> None:
    from celery import Celery

    from webmail.beat import HeartbeatScheduler

    heartbeat = tmp_path / "beat-heartbeat"
    app = Celery("beat-test", set_as_current=False)
    app.conf.beat_schedule = {}  # nothing due: the tick sends no task
    with override_settings(BEAT_HEARTBEAT_FILE=heartbeat):
        scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
        try:
            scheduler.tick()
            call_command("healthcheck", fresh_file=heartbeat, max_age=60)
            old = time.time() - 120
            os.utime(heartbeat, (old, old))
            scheduler.tick()
        finally:
            scheduler.close()

    call_command("healthcheck", fresh_file=heartbeat, max_age=60)
