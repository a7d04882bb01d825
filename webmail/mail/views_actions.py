"""What a person does to messages from the list or the reader, and undo.

Every change goes through webmail.mail.actions (local state now, an UpstreamOperation
for the server). For htmx the answer is a toast with Undo plus out-of-band swaps of the
rows and unread counts that changed; without JavaScript, a redirect back.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from webmail.mail import actions, labels
from webmail.mail.access import get_folder_for_user, messages_for_user
from webmail.mail.listing import LIST_FIELDS
from webmail.mail.models import Folder, FolderRole, Message
from webmail.mail.views_common import in_person_time_zone, person, row_urls

UNDO_KEY = "mail_undo"
MAX_IDS = 1000  # a select-all of several pages; more is a bulk job, not a click
FLAG_ACTIONS = {
    "read": (actions.mark_read, "unread", gettext_lazy("Marked as read")),
    "unread": (actions.mark_unread, "read", gettext_lazy("Marked as unread")),
    "star": (actions.flag, "unstar", gettext_lazy("Starred")),
    "unstar": (actions.unflag, "star", gettext_lazy("Star removed")),
}
MOVE_ROLES = {
    "archive": (FolderRole.ARCHIVE, gettext_lazy("Archived")),
    "spam": (FolderRole.JUNK, gettext_lazy("Marked as spam")),
    "notspam": (FolderRole.INBOX, gettext_lazy("Moved to Inbox")),
}


def _ids(request: HttpRequest) -> list[int]:
    found: list[int] = []
    for value in request.POST.getlist("ids"):
        for piece in value.split(","):
            if piece.strip().isdigit():
                found.append(int(piece))
    return found[:MAX_IDS]


def _role_folder(account_id: int, role: str) -> Folder:
    target = Folder.objects.select_related("account").filter(
        account_id=account_id, role=role).first()
    if target is None:
        raise actions.ActionError(
            _("This account has no %(folder)s folder.") % {"folder": FolderRole(role).label})
    return target


def _move(rows: list[Message], target_for: Any) -> dict[str, list[int]]:
    """Move rows account by account; returns {original folder id: [ids]} for undo."""
    origins: dict[str, list[int]] = {}
    by_account: dict[int, list[Message]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, []).append(row)
    for account_id, group in by_account.items():
        target = target_for(account_id)
        moving = [m for m in group if m.folder_id != target.pk]
        for m in moving:
            origins.setdefault(str(m.folder_id), []).append(m.pk)
        if moving:
            actions.move_messages(messages=moving, to_folder=target)
    return origins


def _apply(request: HttpRequest, name: str, rows: list[Message]) -> tuple[str, dict[str, Any]]:
    """Run one action; returns the toast text and the undo record."""
    if name in FLAG_ACTIONS:
        function, inverse, text = FLAG_ACTIONS[name]
        changed = [m.pk for m in rows if _would_change(name, m)]
        function(messages=rows)
        return str(text), {"flag": inverse, "ids": changed}
    if name in MOVE_ROLES:
        role, text = MOVE_ROLES[name]
        return str(text), {"moves": _move(rows, lambda account_id: _role_folder(account_id, role))}
    if name == "move":
        folder_id = request.POST.get("folder", "")
        if not folder_id.isdigit():
            raise actions.ActionError(_("Choose a folder to move to."))
        target = get_folder_for_user(request.user, int(folder_id))
        return _("Moved to %(folder)s") % {"folder": target.name}, {
            "moves": _move(rows, lambda _a: target)}
    if name == "delete":
        origins: dict[str, list[int]] = {}
        for m in rows:
            if m.folder.role != FolderRole.TRASH:
                origins.setdefault(str(m.folder_id), []).append(m.pk)
        actions.delete_messages(messages=rows)
        return _("Deleted"), {"moves": origins}
    raise actions.ActionError(_("Unknown action."))


def _would_change(name: str, message: Message) -> bool:
    column, value = {"read": ("is_seen", True), "unread": ("is_seen", False),
                     "star": ("is_flagged", True), "unstar": ("is_flagged", False)}[name]
    return bool(getattr(message, column) != value)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("home")
    return HttpResponseRedirect(target)


def _result(request: HttpRequest, text: str, before: dict[int, int], *,
            undo: bool) -> HttpResponse:
    """Toast, changed rows and counts for htmx; a redirect back otherwise.

    `before` maps each touched message id to its folder before the action: a message
    that left its folder (or the store) leaves the list too.
    """
    if not getattr(request, "htmx", False):
        return _back(request)
    user = person(request)
    rows = list(Message.objects.filter(pk__in=list(before), account__owner=user)
                .only(*LIST_FIELDS))
    stayed = [r for r in rows if r.folder_id == before.get(r.pk)]
    removed = sorted(set(before) - {r.pk for r in stayed})
    folders = list(Folder.objects.filter(account__owner=user).only("id", "unread_count", "role"))
    unread = sum(f.unread_count for f in folders if f.role == FolderRole.INBOX)
    context = {"text": text, "undo": undo, "rows": stayed, "removed": removed,
               "folders": folders, "unified_unread": unread, "row_urls": row_urls()}
    response = render(request, "mail/partials/action_result.html", context)
    # Sent before the swap, so the page can pick the next message while the row exists.
    response["HX-Trigger"] = json.dumps(
        {"unreadChanged": {"unread": unread}, "messagesRemoved": {"ids": removed}})
    return response


def _refresh_list(response: HttpResponse) -> HttpResponse:
    """Ask the page to reload its list (rows came back or all went)."""
    if "HX-Trigger" in response:
        events = json.loads(response["HX-Trigger"])
        events["mailChanged"] = {}
        response["HX-Trigger"] = json.dumps(events)
    return response


@login_required
@require_POST
@in_person_time_zone
def message_action(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("action", "")
    rows = list(messages_for_user(request.user, _ids(request)).select_related("folder__account"))
    if not rows:
        return _result(request, _("Select one or more messages first."), {}, undo=False)
    before = {m.pk: m.folder_id for m in rows}
    try:
        text, inverse = _apply(request, name, rows)
    except actions.ActionError as error:
        return _result(request, str(error), {}, undo=False)
    quiet = request.POST.get("quiet") == "1"
    if not quiet:
        request.session[UNDO_KEY] = {"text": str(text), **inverse}
    return _result(request, "" if quiet else str(text), before, undo=not quiet)


@login_required
@require_POST
@in_person_time_zone
def undo(request: HttpRequest) -> HttpResponse:
    record = request.session.pop(UNDO_KEY, None)
    if not isinstance(record, dict):
        return _result(request, _("Nothing to undo."), {}, undo=False)
    try:
        if record.get("flag") in FLAG_ACTIONS:
            function = FLAG_ACTIONS[record["flag"]][0]
            function(messages=list(messages_for_user(request.user, list(record.get("ids", [])))))
        if record.get("label"):
            _undo_label(request, record)
        for folder_id, ids in (record.get("moves") or {}).items():
            target = get_folder_for_user(request.user, int(folder_id))
            rows = list(messages_for_user(request.user, list(ids)))
            actions.move_messages(messages=rows, to_folder=target)
    except actions.ActionError as error:
        return _result(request, _("Could not undo: %(error)s") % {"error": error}, {}, undo=False)
    # The list refreshes as a whole (rows come back into it), so no row swaps here.
    response = _result(request, _("Undone: %(action)s") % {"action": record.get("text", "")},
                       {}, undo=False)
    return _refresh_list(response)


def _undo_label(request: HttpRequest, record: dict[str, Any]) -> None:
    """Put a label back on (or take it off) the messages the last label click changed."""
    try:
        label = labels.get_label_for_user(request.user, int(record["label"]))
    except Http404:  # deleted since: deleting took it off every message already
        return
    rows = list(messages_for_user(request.user, list(record.get("ids", [])))
                .select_related("folder__account"))
    if record.get("label_action") == "add":
        actions.add_label(messages=rows, label=label)
    else:
        actions.remove_label(messages=rows, label=label)


@login_required
@require_POST
def empty_folder(request: HttpRequest, folder_id: int) -> HttpResponse:
    folder = get_folder_for_user(request.user, folder_id)
    try:
        count = actions.empty_folder(folder=folder)
    except actions.ActionError as error:
        return _result(request, str(error), {}, undo=False)
    request.session.pop(UNDO_KEY, None)
    text = ngettext("Deleted %(count)d message for good.", "Deleted %(count)d messages for good.",
                    count) % {"count": count}
    response = _result(request, text, {}, undo=False)
    return _refresh_list(response)
