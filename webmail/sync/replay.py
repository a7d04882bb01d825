"""Apply one UpstreamOperation on the server, idempotently, and fix the store to match.

Exactly once: the worker may die after the server applied an operation and before it
was marked done, so applying the same operation again must be harmless:
- flags: STORE is idempotent;
- move/copy/delete-to-Trash: UIDs already gone from the source are looked for in the
  destination by Message-ID; found there means "applied before" (done), found nowhere
  means another client removed the message (conflict, the local ghost is removed);
- expunge: a UID already gone is the wanted result;
- append: the target is searched for the Message-ID before appending again;
- folders: LIST decides whether create/rename/delete already happened.

Messages are named by (folder, UIDVALIDITY, UID) when the UID was known at the time,
else by local id and Message-ID. When the replay learns a new UID (COPYUID, APPENDUID,
a Message-ID match), it fills it in on the local row and on later pending operations,
so a chain "move, then flag, then move again" finds the message at every step.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import MailAccount
from webmail.mail import blobs
from webmail.mail.models import (
    Folder,
    Message,
    OperationKind,
    OperationState,
    UpstreamOperation,
)
from webmail.protocols.errors import PermanentServerError
from webmail.protocols.imap_types import SelectInfo, uid_set

if TYPE_CHECKING:
    from webmail.protocols.imap import ImapClient

Ref = dict[str, Any]  # {"id": local id, "uid": int | None, "mid": Message-ID, "copy": id}


class Replayer:
    """Applies operations for one account over one connection."""

    def __init__(self, client: ImapClient, account: MailAccount) -> None:
        self.client = client
        self.account = account
        self._selected: tuple[str, SelectInfo] | None = None

    def apply(self, op: UpstreamOperation) -> str:
        """Apply `op` upstream and mark it; returns the state it ended in."""
        handler = {
            OperationKind.SET_FLAGS: self._set_flags,
            OperationKind.MOVE: self._move,
            OperationKind.DELETE: self._move,
            OperationKind.COPY: self._copy,
            OperationKind.EXPUNGE: self._expunge,
            OperationKind.CREATE_FOLDER: self._create_folder,
            OperationKind.RENAME_FOLDER: self._rename_folder,
            OperationKind.DELETE_FOLDER: self._delete_folder,
            OperationKind.APPEND: self._append,
        }[OperationKind(op.kind)]
        return handler(op, op.arguments)

    # -- messages ---------------------------------------------------------------------
    def _set_flags(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        info = self._select(self._remote(args))
        if info is None:
            return _finish(op, OperationState.CONFLICT, "The folder is gone from the server.")
        found, missing = self._resolve(args, info)
        note = ""
        try:
            self.client.set_flags(sorted(found.values()), add=args["add"],
                                  remove=args["remove"])
        except PermanentServerError as exc:
            # A server that keeps no keywords (or not this one) refuses a label: the
            # label stays here only (Folder.local_keywords), the rest still goes.
            refused = [f for f in args["add"] if not f.startswith("\\")]
            if not refused:
                raise
            system = [f for f in args["add"] if f.startswith("\\")]
            self.client.set_flags(sorted(found.values()), add=system, remove=args["remove"])
            _keep_keywords_local(args["folder_id"], refused)
            note = f"The server keeps no such keyword; the label stays here only. {exc}"
        with transaction.atomic():
            uv = _local_uidvalidity(args["folder_id"])
            if uv is not None and uv == info.uidvalidity:
                _learn_uids(self.account, args["folder_id"], uv,
                            {int(key): uid for key, uid in found.items()})
            if missing:
                return _finish(op, OperationState.CONFLICT,
                               _gone(len(missing), args["folder_name"]))
            return _finish(op, OperationState.DONE, note)

    def _move(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        return self._transfer(op, args, move=True)

    def _copy(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        return self._transfer(op, args, move=False)

    def _transfer(self, op: UpstreamOperation, args: dict[str, Any], *, move: bool) -> str:
        refs: list[Ref] = args["messages"]
        dest = args["to"] or self.client.encode_name(args["to_name"])
        info = self._select(self._remote(args))
        found: dict[str, int] = {}
        missing = refs
        if info is not None:
            found, missing = self._resolve(args, info)
        mapping: dict[int, int] = {}
        if found:
            try:
                action = self.client.move if move else self.client.copy
                mapping = action(sorted(found.values()), dest)
            except PermanentServerError:
                if self._exists(dest):
                    raise
                with transaction.atomic():
                    if move:  # the messages never left: show them where they are
                        self._put_back(found, args, info)
                    else:
                        _drop_local([_local_id(r, move) for r in refs], args["to_id"])
                    return _finish(op, OperationState.CONFLICT,
                                   f"The folder “{args['to_name']}” is gone from the server.")
        # Gone from the source: applied before (then it is in the destination), or
        # removed by another client.
        recovered = self._find_by_mid(dest, missing) if missing else {}
        dest_uv = _local_uidvalidity(args["to_id"])
        if dest_uv is None and (mapping or recovered):
            # A folder never synced yet: learn its UIDVALIDITY so the new UIDs can be
            # stored now (the first sync of it then finds them and fetches no twin).
            dest_info = self._select(dest)
            dest_uv = dest_info.uidvalidity if dest_info is not None else None
        with transaction.atomic():
            learned = {
                _local_id(_ref_by_key(refs, key), move): mapping[old_uid]
                for key, old_uid in found.items() if old_uid in mapping
            }
            learned.update({_local_id(_ref_by_key(refs, key), move): uid
                            for key, uid in recovered.items()})
            if dest_uv is not None:
                _learn_uids(self.account, args["to_id"], dest_uv, learned)
            lost = [r for r in missing if _key(r) not in recovered]
            if lost:
                _drop_local([_local_id(r, move) for r in lost], args["to_id"])
                where = args["folder_name"] if info is not None else "the server"
                return _finish(op, OperationState.CONFLICT, _gone(len(lost), where))
            return _finish(op, OperationState.DONE)

    def _expunge(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        info = self._select(self._remote(args))
        if info is None:
            return _finish(op, OperationState.DONE, "The folder was gone already.")
        found, missing = self._resolve(args, info)
        self.client.set_flags(sorted(found.values()), add=["\\Deleted"])
        self.client.expunge(sorted(found.values()))
        note = f"{len(missing)} message(s) were gone already." if missing else ""
        return _finish(op, OperationState.DONE, note)

    def _append(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        remote = self._remote(args)
        info = self._select(remote)
        if info is None:
            return _finish(op, OperationState.CONFLICT,
                           f"The folder “{args['folder_name']}” is gone from the server; "
                           "the message is kept here only.")
        ref: Ref = {"id": args["id"], "uid": None, "mid": args["mid"]}
        existing = self._find_by_mid(remote, [ref], info=info)
        if existing:
            uid, note = existing[_key(ref)], "It was on the server already."
        else:
            try:
                raw = blobs.get(args["blob"])
            except blobs.BlobMissing:
                return _finish(op, OperationState.FAILED, "The message's bytes are lost.")
            date = datetime.fromisoformat(args["date"]) if args.get("date") else None
            appended = self.client.append(remote, raw, flags=args["flags"], date=date)
            self._selected = None  # EXISTS changed under the cached SELECT
            if appended is None or appended[0] != info.uidvalidity:
                return _finish(op, OperationState.DONE)
            uid, note = appended[1], ""
        with transaction.atomic():
            uv = _local_uidvalidity(args["folder_id"])
            if uv is None or uv == info.uidvalidity:
                _learn_uids(self.account, args["folder_id"], info.uidvalidity,
                            {args["id"]: uid})
            return _finish(op, OperationState.DONE, note)

    # -- folders ----------------------------------------------------------------------
    def _create_folder(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        remote = self.client.encode_name(args["folder_name"])
        if self._exists(remote):
            note = "It existed on the server already."
        else:
            try:
                self.client.create_folder(remote)
            except PermanentServerError as exc:
                Folder.objects.filter(pk=args["folder_id"]).update(local_only=True)
                return _finish(op, OperationState.FAILED,
                               f"The server refused the folder; it is kept here only. {exc}")
            note = ""
        with transaction.atomic():
            Folder.objects.filter(pk=args["folder_id"]).update(remote_name=remote)
            return _finish(op, OperationState.DONE, note)

    def _rename_folder(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        old = args["folder"] or self.client.encode_name(args["folder_name"])
        new = self.client.encode_name(args["new_name"])
        names = {f.remote_name for f in self.client.list_folders()}
        if old not in names:
            if new in names:
                return _finish(op, OperationState.DONE, "It was renamed already.")
            return _finish(op, OperationState.CONFLICT, "The folder is gone from the server.")
        if new in names:
            return _finish(op, OperationState.CONFLICT,
                           f"The server has a folder “{args['new_name']}” already.")
        if self._selected and self._selected[0] == old:
            self._selected = None
        self.client.rename_folder(old, new)
        with transaction.atomic():
            for folder in Folder.objects.filter(account=self.account, local_only=False):
                if folder.name == args["new_name"] or folder.name.startswith(
                        args["new_name"] + folder.delimiter):
                    Folder.objects.filter(pk=folder.pk).update(
                        remote_name=self.client.encode_name(folder.name))
            return _finish(op, OperationState.DONE)

    def _delete_folder(self, op: UpstreamOperation, args: dict[str, Any]) -> str:
        remote = args["folder"] or self.client.encode_name(args["folder_name"])
        if not self._exists(remote):
            return _finish(op, OperationState.DONE, "It was gone already.")
        self._selected = None
        self.client.delete_folder(remote)
        return _finish(op, OperationState.DONE)

    # -- finding messages ---------------------------------------------------------------
    def _remote(self, args: dict[str, Any]) -> str:
        return str(args["folder"] or self.client.encode_name(args["folder_name"]))

    def _select(self, remote: str) -> SelectInfo | None:
        """SELECT (read-write) once per folder and replay; None if the folder is gone."""
        if self._selected and self._selected[0] == remote:
            return self._selected[1]
        try:
            info = self.client.select(remote)
        except PermanentServerError:
            if self._exists(remote):
                raise
            return None
        self._selected = (remote, info)
        return info

    def _exists(self, remote: str) -> bool:
        return any(f.remote_name == remote for f in self.client.list_folders())

    def _resolve(self, args: dict[str, Any], info: SelectInfo) -> tuple[dict[str, int],
                                                                         list[Ref]]:
        """Which of the operation's messages the selected folder holds, by UID.

        Returns ({ref key: uid}, [refs not found]).
        """
        refs: list[Ref] = args["messages"]
        same_uv = args.get("uidvalidity") == info.uidvalidity
        by_uid: dict[str, int] = {}
        by_mid: list[Ref] = []
        for ref in refs:
            uid = ref["uid"] if same_uv else None
            if uid is None:
                uid = _uid_known_locally(ref, args["folder_id"], info.uidvalidity)
            if uid is None:
                by_mid.append(ref)
            else:
                by_uid[_key(ref)] = uid
        if by_uid:
            present = set(self.client.search_uids(f"UID {uid_set(by_uid.values())}"))
            for key, uid in list(by_uid.items()):
                if uid not in present:
                    del by_uid[key]
                    by_mid.append(_ref_by_key(refs, key))
        # A UID known but gone is not searched by Message-ID in the same folder: the
        # same Message-ID there would be another copy, not this message.
        searchable = [r for r in by_mid if r["uid"] is None or not same_uv]
        by_uid.update(self._find_by_mid(self._remote(args), searchable, info=info))
        missing = [r for r in refs if _key(r) not in by_uid]
        return by_uid, missing

    def _find_by_mid(self, remote: str, refs: list[Ref], *,
                     info: SelectInfo | None = None) -> dict[str, int]:
        """UIDs in `remote` of messages with the refs' Message-IDs (highest UID wins)."""
        searchable = [r for r in refs if _searchable(r.get("mid", ""))]
        if not searchable:
            return {}
        if info is None:
            if self._select(remote) is None:
                return {}
        elif self._selected is None or self._selected[0] != remote:
            self._select(remote)
        found: dict[str, int] = {}
        taken: set[int] = set()
        for ref in searchable:
            mid = ref["mid"].replace("\\", "\\\\").replace('"', '\\"')
            uids = [u for u in self.client.search_uids(f'HEADER Message-ID "{mid}"')
                    if u not in taken]
            if uids:
                found[_key(ref)] = uids[-1]
                taken.add(uids[-1])
        return found

    def _put_back(self, found: dict[str, int], args: dict[str, Any],
                  info: SelectInfo | None) -> None:
        if info is None:
            return
        for key, uid in found.items():
            Message.objects.filter(pk=int(key), folder_id=args["to_id"], uid__isnull=True) \
                .update(folder_id=args["folder_id"], uid=uid, uidvalidity=info.uidvalidity)


# -- store helpers ------------------------------------------------------------------------
def _key(ref: Ref) -> str:
    return str(ref["id"])


def _ref_by_key(refs: list[Ref], key: str) -> Ref:
    return next(r for r in refs if _key(r) == key)


def _local_id(ref: Ref, move: bool) -> int:
    """The local row that stands for the message in the destination."""
    local: int = ref["id"] if move else ref.get("copy") or ref["id"]
    return int(local)


def _searchable(mid: str) -> bool:
    return bool(mid) and mid.isascii() and "\r" not in mid and "\n" not in mid


def _gone(count: int, where: str) -> str:
    return (f"{count} message(s) were no longer in “{where}” (removed by another "
            "client); the local copy follows the server.")


def _local_uidvalidity(folder_id: int) -> int | None:
    return Folder.objects.filter(pk=folder_id).values_list("uidvalidity", flat=True).first()


def _uid_known_locally(ref: Ref, folder_id: int, uidvalidity: int) -> int | None:
    """A UID a sync or an earlier replay filled in since the operation was recorded."""
    row = Message.objects.filter(pk=ref["id"], folder_id=folder_id,
                                 uidvalidity=uidvalidity).values_list("uid", flat=True).first()
    return int(row) if row is not None else None


def _learn_uids(account: MailAccount, folder_id: int, uidvalidity: int,
                learned: dict[int, int]) -> None:
    """Record that local messages {id: uid} now have these UIDs in `folder_id`: on the
    local rows (those still without a UID) and on later pending operations naming them.
    """
    if not learned:
        return
    for local_id, uid in learned.items():
        row = Message.objects.filter(pk=local_id, folder_id=folder_id, uid__isnull=True)
        if row.exists():
            # A sync that ran before this replay may have stored the same message as
            # new; the person's row (the one later operations name) wins.
            Message.objects.filter(folder_id=folder_id, uidvalidity=uidvalidity,
                                   uid=uid).exclude(pk=local_id).delete()
            row.update(uid=uid, uidvalidity=uidvalidity)
    for later in UpstreamOperation.objects.filter(account=account,
                                                  state=OperationState.PENDING):
        args = later.arguments
        if args.get("folder_id") != folder_id or args.get("uidvalidity") not in (
                None, uidvalidity):
            continue
        changed = False
        for other in args.get("messages", []):
            if other.get("uid") is None and other.get("id") in learned:
                other["uid"] = learned[other["id"]]
                changed = True
        if changed:
            args["uidvalidity"] = uidvalidity
            UpstreamOperation.objects.filter(pk=later.pk).update(arguments=args)


def _drop_local(ids: list[int], folder_id: int) -> None:
    """Remove local rows that stand for messages the server no longer has anywhere."""
    Message.objects.filter(pk__in=ids, folder_id=folder_id, uid__isnull=True).delete()
    from webmail.mail.actions import _refresh_counts

    _refresh_counts({folder_id})


def _finish(op: UpstreamOperation, state: str, note: str = "") -> str:
    UpstreamOperation.objects.filter(pk=op.pk).update(
        state=state, last_error=note[:2000], attempts=F("attempts") + 1,
        finished_at=timezone.now(), next_attempt_at=None)
    return state


def _keep_keywords_local(folder_id: int, keywords: list[str]) -> None:
    with transaction.atomic():
        folder = Folder.objects.select_for_update().filter(pk=folder_id).first()
        if folder is None:
            return
        kept = sorted(set(folder.local_keywords) | set(keywords))
        Folder.objects.filter(pk=folder_id).update(local_keywords=kept)
