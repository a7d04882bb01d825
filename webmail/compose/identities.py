"""From-addresses: each account has at least one identity (made from the account)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import MailAccount, User
from webmail.compose.headers import Mailbox
from webmail.compose.models import Identity


def default_identity(account: MailAccount) -> Identity | None:
    return (Identity.objects.filter(account=account).order_by("-is_default", "id").first())


def ensure_default_identity(account: MailAccount) -> Identity:
    """The account's default identity, created from the account on first use."""
    found = default_identity(account)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Identity.objects.create(account=account, name=account.display_name,
                                           address=account.email, is_default=True)
    except IntegrityError:  # created meanwhile
        identity = default_identity(account)
        assert identity is not None
        return identity


def identities_for_user(user: User) -> list[Identity]:
    for account in MailAccount.objects.filter(owner=user, enabled=True):
        ensure_default_identity(account)
    return list(Identity.objects.filter(account__owner=user, account__enabled=True)
                .select_related("account").order_by("account_id", "-is_default", "id"))


def sender_of(account: MailAccount, identity: Identity | None) -> tuple[Mailbox, Mailbox | None]:
    if identity is None:
        return Mailbox(account.display_name, account.email), None
    reply_to = Mailbox("", identity.reply_to) if identity.reply_to else None
    return Mailbox(identity.name, identity.address), reply_to


def save_identity(identity: Identity) -> Identity:
    """Save; a new default identity takes the place of the account's previous one."""
    with transaction.atomic():
        if identity.is_default:
            Identity.objects.filter(account_id=identity.account_id, is_default=True).exclude(
                pk=identity.pk).update(is_default=False)
        identity.save()
    return identity
