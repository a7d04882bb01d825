"""Reads for the mail pages: folder tree, message lists, a message's neighbours, changes.

Every function takes the person and returns only their data; the number of queries
does not depend on how much mail there is (the list is keyset-paginated, see
webmail.mail.listing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db.models import Max
from django.utils.translation import gettext_lazy

from accounts.models import MailAccount, User
from webmail.mail.listing import MessagePage, Sort, page_of_messages
from webmail.mail.models import Attachment, Folder, FolderRole, Message

# Special folders first, in the order mail clients show them; the rest by name.
ROLE_ORDER = {
    FolderRole.INBOX: 0,
    FolderRole.DRAFTS: 1,
    FolderRole.SENT: 2,
    FolderRole.ARCHIVE: 3,
    FolderRole.JUNK: 4,
    FolderRole.TRASH: 5,
}


# Special folders are shown by role, in the person's language.
ROLE_LABELS = {
    FolderRole.INBOX: gettext_lazy("Inbox"),
    FolderRole.DRAFTS: gettext_lazy("Drafts"),
    FolderRole.SENT: gettext_lazy("Sent"),
    FolderRole.ARCHIVE: gettext_lazy("Archive"),
    FolderRole.JUNK: gettext_lazy("Junk"),
    FolderRole.TRASH: gettext_lazy("Trash"),
}


@dataclass(frozen=True)
class FolderNode:
    folder: Folder
    depth: int
    label: str


@dataclass(frozen=True)
class AccountTree:
    account: MailAccount
    folders: list[FolderNode]

    @property
    def inbox(self) -> Folder | None:
        return next((n.folder for n in self.folders if n.folder.role == FolderRole.INBOX), None)


@dataclass(frozen=True)
class Sidebar:
    accounts: list[AccountTree]
    folders_by_id: dict[int, Folder] = field(default_factory=dict)

    @property
    def inboxes(self) -> list[Folder]:
        return [tree.inbox for tree in self.accounts if tree.inbox is not None]

    @property
    def unified_unread(self) -> int:
        return sum(folder.unread_count for folder in self.inboxes)

    @property
    def has_accounts(self) -> bool:
        return bool(self.accounts)

    def role_folder(self, account_id: int, role: str) -> Folder | None:
        for tree in self.accounts:
            if tree.account.pk == account_id:
                return next((n.folder for n in tree.folders if n.folder.role == role), None)
        return None


def _folder_sort_key(folder: Folder) -> tuple[int, str]:
    return (ROLE_ORDER.get(FolderRole(folder.role), 9) if folder.role else 9, folder.name.lower())


def sidebar(user: User) -> Sidebar:
    """The person's accounts with their folders (two queries; counts are kept columns)."""
    accounts = list(MailAccount.objects.filter(owner=user).order_by("email", "id"))
    folders = list(
        Folder.objects.filter(account__owner=user)
        .defer("sync_progress")
        .order_by("account_id", "name")
    )
    by_account: dict[int, list[Folder]] = {}
    for folder in folders:
        by_account.setdefault(folder.account_id, []).append(folder)
    trees = []
    for account in accounts:
        own = sorted(by_account.get(account.pk, []), key=_folder_sort_key)
        nodes = []
        for folder in own:
            folder.account = account  # no extra query when templates reach for it
            parts = folder.name.split(folder.delimiter) if folder.delimiter else [folder.name]
            depth = 0 if folder.role else len(parts) - 1
            label = str(ROLE_LABELS[FolderRole(folder.role)]) if folder.role else parts[-1]
            nodes.append(FolderNode(folder=folder, depth=depth, label=label))
        trees.append(AccountTree(account=account, folders=nodes))
    return Sidebar(accounts=trees, folders_by_id={f.pk: f for f in folders})


def folder_messages(
    folder: Folder, *, sort: Sort = Sort.DATE, cursor: str | None = None, limit: int = 50,
    threads: bool = False,
) -> MessagePage:
    return page_of_messages([folder.pk], sort=sort, cursor=cursor, limit=limit, threads=threads)


def unified_inbox_messages(
    side: Sidebar, *, sort: Sort = Sort.DATE, cursor: str | None = None, limit: int = 50,
    threads: bool = False,
) -> MessagePage:
    return page_of_messages([f.pk for f in side.inboxes], sort=sort, cursor=cursor, limit=limit,
                            threads=threads)


def attachments_of(message: Message) -> list[Attachment]:
    return list(Attachment.objects.filter(message=message).order_by("id"))


def conversation_of(message: Message, *, limit: int = 50) -> list[Message]:
    """Other messages of the same conversation in the account, oldest first."""
    if not message.thread_key:
        return []
    return list(
        Message.objects.filter(account_id=message.account_id, thread_key=message.thread_key)
        .exclude(pk=message.pk)
        .select_related("folder")
        .only("id", "subject", "from_name", "from_address", "date", "is_seen", "folder__name",
              "folder__role", "snippet")
        .order_by("date", "id")[:limit]
    )


_FOLDER_STAMP = ("id", "role", "total_count", "unread_count", "highestmodseq", "last_synced_at")
_ACCOUNT_STAMP = ("id", "sync_status", "last_sync_at", "sync_progress", "last_error")


def _newest_id(user: User) -> int:
    return int(Message.objects.filter(account__owner=user).aggregate(top=Max("id"))["top"] or 0)


def _stamp(folders: list[tuple[object, ...]], accounts: list[tuple[object, ...]],
           newest: int) -> dict[str, object]:
    digest = hashlib.sha256(repr((folders, accounts, newest)).encode()).hexdigest()[:16]
    unread = sum(int(str(row[3])) for row in folders if row[1] == FolderRole.INBOX)
    return {"version": digest, "newest": newest, "unread": unread}


def changes_stamp(user: User) -> dict[str, object]:
    """A cheap fingerprint of everything the open page shows (three small queries).

    Anything that changes the list (new mail, a flag or move done elsewhere, a sync
    step) changes a folder's counts, its modseq, the newest id, or an account's state.
    """
    folders = list(
        Folder.objects.filter(account__owner=user).order_by("id").values_list(*_FOLDER_STAMP)
    )
    accounts = list(
        MailAccount.objects.filter(owner=user).order_by("id").values_list(*_ACCOUNT_STAMP)
    )
    return _stamp(folders, accounts, _newest_id(user))


def sidebar_stamp(user: User, side: Sidebar) -> dict[str, object]:
    """The same fingerprint from a sidebar already loaded (one more query)."""
    folders = sorted(
        (tuple(getattr(f, name) for name in _FOLDER_STAMP) for f in side.folders_by_id.values()),
        key=lambda row: int(str(row[0])),
    )
    accounts = sorted(
        (tuple(getattr(t.account, name) for name in _ACCOUNT_STAMP) for t in side.accounts),
        key=lambda row: int(str(row[0])),
    )
    return _stamp(folders, accounts, _newest_id(user))
