"""Operating it: admin actions are audited; production settings pass Django's checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import MailAccount, User
from tests.conftest import make_account, make_user
from webmail.compose.models import Outbox, OutboxState
from webmail.mail import blobs

ROOT = Path(__file__).resolve().parents[2]


def _root_client() -> tuple[Client, User]:
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    return client, root


def test_admin_actions_are_recorded_in_the_audit_log(alice: User) -> None:
    account = make_account(alice)
    client, root = _root_client()
    client.post(reverse("admin:accounts_mailaccount_changelist"),
                {"action": "disable_accounts", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.enabled is False
    entry = LogEntry.objects.get(object_id=str(account.pk))
    assert entry.user == root
    assert "Disabled" in entry.get_change_message()
    assert entry.action_time <= timezone.now()

    page = client.get(reverse("admin:admin_logentry_changelist")).content.decode()
    assert "Disabled" in page


def test_the_admin_retries_a_failed_message(alice: User) -> None:
    account = make_account(alice, smtp_host="smtp.example.test")
    row = Outbox.objects.create(
        owner=alice, account=account, message_id="f@example.test", subject="failed one",
        envelope_from="alice@example.test", recipients=["x@example.test"],
        blob=blobs.put(b"Subject: x\r\n\r\nx\r\n"), next_attempt_at=timezone.now(),
        state=OutboxState.FAILED, last_error="550 no such user",
    )
    client, _ = _root_client()
    client.post(reverse("admin:compose_outbox_changelist"),
                {"action": "retry_messages", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.state == OutboxState.QUEUED
    assert LogEntry.objects.filter(object_id=str(row.pk)).exists()
    assert MailAccount.objects.count() == 1


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    # Production-like: none of the test run's own variables (the browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE for their ORM calls).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WEBMAIL_", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"))}
    env.update(DJANGO_SETTINGS_MODULE="webmail.settings", WEBMAIL_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_collectstatic_succeeds_with_the_production_storage(tmp_path: Path) -> None:
    # The manifest storage refuses references to missing files (a source map, a font):
    # `make run` and the Docker image run this, so a test does too.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WEBMAIL_", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"))}
    env.update(DJANGO_SETTINGS_MODULE="webmail.settings", WEBMAIL_DATA_DIR=str(tmp_path),
               STATIC_ROOT=str(tmp_path / "static"))
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()
