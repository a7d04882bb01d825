"""Account tasks: thin wrappers that take an id and call one function."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import translation

from accounts.connection_check import check_account
from accounts.models import MailAccount


@shared_task
def check_account_task(account_id: int, language: str = "") -> dict[str, Any]:
    """Run the connection check; the result goes to the result backend for the page,
    worded in `language` (the language of the page that asked)."""
    account = MailAccount.objects.get(pk=account_id)
    with translation.override(language or settings.LANGUAGE_CODE):
        report = check_account(account)
    return {
        "account_id": account_id,
        "results": [
            {"server": r.server, "ok": r.ok, "message": r.message} for r in report.results
        ],
    }
