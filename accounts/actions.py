"""Writes to accounts: one function per change."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

from accounts.forms import MailAccountForm
from accounts.models import AuthKind, MailAccount, SiteSettings, User

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


def delete_mail_account(*, account: MailAccount) -> None:
    """Remove the account and its local copy (rows cascade; blobs go with their last use)."""
    account_id = account.pk
    if account.auth_kind == AuthKind.OAUTH2:
        from accounts.oauth.tokens import revoke

        revoke(account)  # best effort: a provider that is away does not block removal
    delete_accounts_and_blobs(MailAccount.objects.filter(pk=account_id))
    log.info("mail account removed", extra={"account_id": account_id})


def delete_user(*, user: User) -> None:
    """Remove a person, their mail accounts, their local copy and blobs no one else uses."""
    user_id = user.pk
    with transaction.atomic():
        delete_accounts_and_blobs(MailAccount.objects.filter(owner_id=user_id))
        user.delete()
    log.info("user removed", extra={"user_id": user_id})


def delete_accounts_and_blobs(accounts: QuerySet[MailAccount]) -> None:
    from webmail.mail import blobs
    from webmail.mail.models import Message

    with transaction.atomic():
        shas = set(
            Message.objects.filter(account__in=accounts, blob__isnull=False)
            .values_list("blob_id", flat=True)
        )
        accounts.delete()
    # Blobs are shared by content: only those no one references any more go.
    blobs.delete_unreferenced(shas)


def forget_sync_state(*, account: MailAccount) -> None:
    """Make the next sync start over: folders forget their UIDVALIDITY and positions.

    Messages stay until the sync rebuilds each folder, and queued upstream operations
    are kept, so nothing a person did is lost.
    """
    from webmail.mail.models import Folder

    Folder.objects.filter(account=account).update(
        uidvalidity=None, uidnext=None, highestmodseq=None, last_seen_uid=0
    )
