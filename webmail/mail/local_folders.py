"""The folders an account keeps only in our store (every POP3 account has them).

POP3 has one mailbox and no folders, yet people still file, archive and throw away
mail: those folders live here, `local_only=True`, and actions change only the store.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import MailAccount
from webmail.mail.models import Folder, FolderRole

# (role, name). The inbox keeps IMAP's name so code that looks for "INBOX" finds both.
LOCAL_FOLDERS: tuple[tuple[str, str], ...] = (
    (FolderRole.INBOX, "INBOX"),
    (FolderRole.SENT, "Sent"),
    (FolderRole.DRAFTS, "Drafts"),
    (FolderRole.ARCHIVE, "Archive"),
    (FolderRole.TRASH, "Trash"),
    (FolderRole.JUNK, "Junk"),
)


def ensure_local_folders(account: MailAccount) -> dict[str, Folder]:
    """The account's local folders by role ("inbox", "sent", ...), created if missing.

    Idempotent and safe to race: a folder the person already has with that name (say
    their own "Archive") gets the role instead of a second folder being created.
    """
    by_role: dict[str, Folder] = {
        folder.role: folder
        for folder in Folder.objects.filter(account=account).exclude(role="").order_by("id")
    }
    for role, name in LOCAL_FOLDERS:
        if role in by_role:
            continue
        by_role[role] = _get_or_create(account, role, name)
    return {role: by_role[role] for role, _name in LOCAL_FOLDERS}


def _get_or_create(account: MailAccount, role: str, name: str) -> Folder:
    existing = Folder.objects.filter(account=account, name=name).first()
    if existing is None:
        try:
            with transaction.atomic():
                return Folder.objects.create(
                    account=account, name=name, role=role, local_only=True, delimiter="/"
                )
        except IntegrityError:
            # Another process created it between our read and our insert.
            existing = Folder.objects.get(account=account, name=name)
    if not existing.role:
        Folder.objects.filter(pk=existing.pk, role="").update(role=role)
        existing.refresh_from_db()
    return existing
