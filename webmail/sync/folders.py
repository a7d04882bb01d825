"""Local folders follow the server's folder list (created, renamed, deleted, roles).

A folder is matched to its local row by its wire name first, then by its decoded name.
A local folder whose name is gone upstream is deleted with its messages, unless a
pending UpstreamOperation still refers to it (a folder the person just created or
renamed, or moved mail into, before the replay carried it upstream): that one waits.
A rename upstream therefore shows as the old folder gone and a new one synced afresh,
which is what the server's new UIDVALIDITY for a renamed folder would force anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import MailAccount
from webmail.mail.models import Folder, OperationState, UpstreamOperation
from webmail.protocols.imap import RemoteFolder

# The order the engine visits folders in: the inbox first (new mail), then what people
# open most, then the rest by name.
ROLE_ORDER = {"inbox": 0, "sent": 1, "drafts": 2, "archive": 3, "junk": 4, "trash": 5, "": 9}
# Keys of UpstreamOperation.arguments that name a local folder (see webmail.mail.actions).
FOLDER_ARGUMENTS = ("folder_id", "to_id")


def folders_with_pending_operations(account: MailAccount) -> set[int]:
    pending = UpstreamOperation.objects.filter(account=account, state=OperationState.PENDING)
    ids: set[int] = set()
    for arguments in pending.values_list("arguments", flat=True):
        if isinstance(arguments, dict):
            ids.update(int(arguments[k]) for k in FOLDER_ARGUMENTS
                       if isinstance(arguments.get(k), int))
    return ids


def sync_folder_list(account: MailAccount, remote: Sequence[RemoteFolder]) -> list[Folder]:
    """Make the account's folders match `remote`; returns them in sync order."""
    with transaction.atomic():
        local = list(Folder.objects.select_for_update().filter(account=account, local_only=False))
        by_wire = {f.remote_name: f for f in local if f.remote_name}
        by_name = {f.name: f for f in local}
        kept: dict[int, Folder] = {}
        pairs: list[tuple[RemoteFolder, Folder | None]] = []
        for item in remote:
            match = by_wire.get(item.remote_name) or by_name.get(item.name)
            if match is not None and match.pk in kept:
                match = None
            if match is not None:
                kept[match.pk] = match
            pairs.append((item, match))

        protected = folders_with_pending_operations(account)
        gone = [f for f in local if f.pk not in kept and f.pk not in protected]
        if gone:
            Folder.objects.filter(pk__in=[f.pk for f in gone]).delete()
        # A role belongs to one folder: clear it where the server gave it to another.
        # Only where some other folder holds it: a resync with nothing changed writes nothing.
        owners = {item.role: match.pk if match else None for item, match in pairs if item.role}
        remaining = [f for f in local if f.pk in kept or f.pk in protected]
        for role, owner in owners.items():
            if not any(f.role == role and f.pk != owner for f in remaining):
                continue
            others = Folder.objects.filter(account=account, role=role, local_only=False)
            if owner is not None:
                others = others.exclude(pk=owner)
            others.update(role="")
            for holder in remaining:
                if holder.role == role and holder.pk != owner:
                    holder.role = ""

        result: list[Folder] = []
        for item, match in pairs:
            if match is None:
                folder = Folder.objects.filter(account=account, name=item.name).first()
                if folder is None:
                    folder = Folder(account=account, name=item.name)
                _apply(folder, item)
                folder.save()
            else:
                folder = match
                if _apply(folder, item):
                    folder.save()
            result.append(folder)
    result.sort(key=lambda f: (ROLE_ORDER.get(f.role, 9), f.name.lower()))
    return result


def _apply(folder: Folder, item: RemoteFolder) -> bool:
    """Copy the server's view onto the row; True if anything changed."""
    values = {
        "name": item.name,
        "remote_name": item.remote_name,
        "delimiter": item.delimiter[:4],
        "role": item.role,
        "selectable": item.selectable,
        "local_only": False,
    }
    changed = False
    for field, value in values.items():
        if getattr(folder, field) != value:
            setattr(folder, field, value)
            changed = True
    return changed
