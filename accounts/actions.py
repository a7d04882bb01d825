"""Writes to accounts: one function per change."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.forms import MailAccountForm
from accounts.models import MailAccount, SiteSettings, User

log = logging.getLogger(__name__)


class AccountLimitReached(Exception):
    pass


@transaction.atomic
def create_mail_account(*, owner: User, form: MailAccountForm) -> MailAccount:
    limit = SiteSettings.current().max_accounts_per_user
    # Lock the owner's row so two concurrent adds cannot both pass the limit.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if MailAccount.objects.filter(owner=owner).count() >= limit:
        raise AccountLimitReached(f"You can have at most {limit} mail accounts here.")
    account = form.save(commit=False)
    account.owner = owner
    account.save()
    log.info("mail account added", extra={"account_id": account.pk, "user_id": owner.pk})
    return account


@transaction.atomic
def delete_mail_account(*, account: MailAccount) -> None:
    """Remove the account and its local copy (rows cascade; blobs go with their last use)."""
    account_id = account.pk
    account.delete()
    log.info("mail account removed", extra={"account_id": account_id})
