"""The three-pane mailbox: folder list, message list, reading pane.

Each view serves the whole page, or for htmx the fragment its target names
(render_page_or_fragment): "list-pane" the list, "more-rows" the next rows of an
endless list, "reader" the reading pane.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from webmail.mail import preferences, selectors
from webmail.mail.access import get_folder_for_user, get_message_for_user
from webmail.mail.listing import MessagePage, Sort
from webmail.mail.models import Folder, Message
from webmail.mail.sender_check import stored_check
from webmail.mail.views_common import (
    in_person_time_zone,
    person,
    render_page_or_fragment,
    row_urls,
)

PAGE_SIZE = 50
SORT_LABELS = [
    (Sort.DATE, gettext_lazy("Date")),
    (Sort.SENDER, gettext_lazy("Sender")),
    (Sort.SUBJECT, gettext_lazy("Subject")),
    (Sort.SIZE, gettext_lazy("Size")),
]
LIST_FRAGMENTS = {
    "list-pane": "mail/partials/message_list.html",
    "more-rows": "mail/partials/message_rows.html",
    "reader": "mail/partials/reader.html",
}


def _list_context(
    request: HttpRequest,
    side: selectors.Sidebar,
    folder: Folder | None,
    page: MessagePage,
) -> dict[str, Any]:
    list_url = reverse("folder", args=[folder.pk]) if folder else reverse("home")
    more_url = None
    mode = {"threads": "1"} if page.threads else {}
    if page.next_cursor:
        more_url = f"{list_url}?{urlencode({'sort': page.sort, 'after': page.next_cursor, **mode})}"
    return {
        "side": side,
        "folder": folder,
        "page": page,
        "sort": page.sort,
        "sorts": SORT_LABELS,
        "list_url": list_url,
        "more_url": more_url,
        "title_unread": side.unified_unread,
        "is_trash": bool(folder and folder.role in ("trash", "junk")),
        "row_urls": row_urls(),
        "threads": page.threads,
        "mode_query": "&threads=1" if page.threads else "",
    }


def _with_live_version(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Whole pages start the live poll at the version they show (fragments need not)."""
    if not getattr(request, "htmx", False):
        stamp = selectors.sidebar_stamp(person(request), context["side"])
        context["live_version"] = stamp["version"]
        context["live_newest"] = stamp["newest"]
    return context


def _page_for(side: selectors.Sidebar, folder: Folder | None, request: HttpRequest) -> MessagePage:
    sort = Sort.parse(request.GET.get("sort"))
    cursor = request.GET.get("after")
    # Conversations are ordered by their newest message: date order only.
    threads = request.GET.get("threads") == "1" and sort is Sort.DATE
    size = preferences.for_request(request).page_size if request.user.is_authenticated \
        else PAGE_SIZE
    if folder is None:
        return selectors.unified_inbox_messages(
            side, sort=sort, cursor=cursor, limit=size, threads=threads)
    return selectors.folder_messages(
        folder, sort=sort, cursor=cursor, limit=size, threads=threads)


@login_required
@require_GET
@in_person_time_zone
def home(request: HttpRequest) -> HttpResponse:
    """The unified Inbox of every account the person has (or how to add the first)."""
    side = selectors.sidebar(person(request))
    page = _page_for(side, None, request)
    context = _with_live_version(request, _list_context(request, side, None, page))
    return render_page_or_fragment(request, "mail/mailbox.html", LIST_FRAGMENTS, context)


@login_required
@require_GET
@in_person_time_zone
def folder(request: HttpRequest, folder_id: int) -> HttpResponse:
    side = selectors.sidebar(person(request))
    # The sidebar holds every folder of the person's accounts: no second query for it.
    current = side.folders_by_id.get(folder_id) or get_folder_for_user(request.user, folder_id)
    page = _page_for(side, current, request)
    context = _with_live_version(request, _list_context(request, side, current, page))
    return render_page_or_fragment(request, "mail/mailbox.html", LIST_FRAGMENTS, context)


def _reader_context(message: Message) -> dict[str, Any]:
    check = stored_check(message)
    return {
        "message": message,
        "sender_check": check,
        "sender_pending": check is None and bool(message.blob_id),
        "attachments": [a for a in selectors.attachments_of(message) if not a.is_inline
                        or not a.content_id],
        "conversation": selectors.conversation_of(message),
    }


@login_required
@require_GET
@in_person_time_zone
def message(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        shown = get_message_for_user(request.user, message_id)
    except Http404:
        # Gone (deleted, moved away by a sync) or never ours: the same clear page.
        response = render(request, "mail/message_gone.html", status=404)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response
    context = _reader_context(shown)
    if getattr(request, "htmx", False) and request.htmx.target == "reader":  # type: ignore[attr-defined]
        return render_page_or_fragment(request, "mail/mailbox.html", LIST_FRAGMENTS, context)
    side = selectors.sidebar(person(request))
    current = side.folders_by_id.get(shown.folder_id, shown.folder)
    page = _page_for(side, current, request)
    context.update(_list_context(request, side, current, page))
    _with_live_version(request, context)
    return render_page_or_fragment(request, "mail/mailbox.html", LIST_FRAGMENTS, context)
