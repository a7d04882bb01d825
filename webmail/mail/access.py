"""The one way a view loads a mail object by id: scoped to its owner, 404 for anyone else.

Another person's message and a message that does not exist answer the same way, so
ids leak nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import MailAccount, User
from webmail.mail.models import Attachment, Folder, Message


def _owner_id(user: object) -> int:
    if not isinstance(user, User) or user.pk is None:
        raise Http404
    return int(user.pk)


def accounts_for_user(user: object) -> QuerySet[MailAccount]:
    return MailAccount.objects.filter(owner_id=_owner_id(user))


def get_account_for_user(user: object, account_id: int) -> MailAccount:
    account = accounts_for_user(user).filter(pk=account_id).first()
    if account is None:
        raise Http404("No such account.")
    return account


def get_folder_for_user(user: object, folder_id: int) -> Folder:
    folder = (
        Folder.objects.select_related("account")
        .filter(pk=folder_id, account__owner_id=_owner_id(user))
        .first()
    )
    if folder is None:
        raise Http404("No such folder.")
    return folder


def get_message_for_user(user: object, message_id: int) -> Message:
    message = (
        Message.objects.select_related("folder", "account")
        .filter(pk=message_id, account__owner_id=_owner_id(user))
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


def get_attachment_for_user(user: object, message_id: int, attachment_id: int) -> Attachment:
    attachment = (
        Attachment.objects.select_related("message")
        .filter(
            pk=attachment_id,
            message_id=message_id,
            message__account__owner_id=_owner_id(user),
        )
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def messages_for_user(user: object, message_ids: list[int]) -> QuerySet[Message]:
    """The subset of `message_ids` that belongs to the user (foreign ids drop out)."""
    return Message.objects.filter(pk__in=message_ids, account__owner_id=_owner_id(user))
