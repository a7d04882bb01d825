"""The one way to load a person's objects by id: anyone else gets a 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from accounts.models import MailAccount, User


def get_mail_account_for_user(user: User, account_id: int) -> MailAccount:
    return get_object_or_404(MailAccount, pk=account_id, owner=user)
