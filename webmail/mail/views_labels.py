"""Labels: the settings page (create, rename, recolour, delete), a label's message list,
and putting a label on or off the selected messages."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webmail.mail import actions, labels, preferences, selectors
from webmail.mail.access import messages_for_user
from webmail.mail.listing import LIST_FIELDS, MessagePage, Sort
from webmail.mail.models import LabelColour
from webmail.mail.views import LIST_FRAGMENTS
from webmail.mail.views_actions import UNDO_KEY, _ids, _result
from webmail.mail.views_common import (
    in_person_time_zone,
    person,
    render_page_or_fragment,
    row_urls,
)


@login_required
@require_http_methods(["GET", "POST"])
def label_settings(request: HttpRequest) -> HttpResponse:
    user = person(request)
    if request.method == "POST":
        try:
            labels.create_label(owner=user, name=request.POST.get("name", ""),
                                colour=request.POST.get("colour", LabelColour.BLUE))
        except labels.LabelError as error:
            flash.error(request, str(error))
        return HttpResponseRedirect(reverse("label_settings"))
    return render(request, "mail/labels.html", {
        "labels": list(labels.labels_for(user)), "colours": LabelColour.choices,
    })


@login_required
@require_POST
def label_edit(request: HttpRequest, label_id: int) -> HttpResponse:
    label = labels.get_label_for_user(request.user, label_id)
    try:
        labels.update_label(label=label, name=request.POST.get("name", ""),
                            colour=request.POST.get("colour", ""))
    except labels.LabelError as error:
        flash.error(request, str(error))
    return HttpResponseRedirect(reverse("label_settings"))


@login_required
@require_POST
def label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    label = labels.get_label_for_user(request.user, label_id)
    labels.delete_label(label=label)
    return HttpResponseRedirect(reverse("label_settings"))


@login_required
@require_GET
@in_person_time_zone
def label_messages(request: HttpRequest, label_id: int) -> HttpResponse:
    """Every message carrying the label, across accounts, newest first (keyset on id)."""
    user = person(request)
    label = labels.get_label_for_user(user, label_id)
    size = preferences.for_request(request).page_size
    rows = labels.messages_with_label(label).only(*LIST_FIELDS).order_by("-id")
    after = request.GET.get("after", "")
    if after.isdigit():
        rows = rows.filter(pk__lt=int(after))
    found = list(rows[: size + 1])
    shown = found[:size]
    list_url = reverse("label_messages", args=[label.pk])
    more_url = None
    if len(found) > size:
        more_url = f"{list_url}?{urlencode({'after': shown[-1].pk})}"
    side = selectors.sidebar(user)
    context: dict[str, object] = {
        "side": side, "folder": None, "label": label,
        "page": MessagePage(messages=shown, next_cursor=None, sort=Sort.DATE),
        "sort": Sort.DATE, "sorts": [], "list_url": list_url, "more_url": more_url,
        "title_unread": side.unified_unread, "is_trash": False, "row_urls": row_urls(),
        "threads": False, "mode_query": "",
    }
    return render_page_or_fragment(request, "mail/mailbox.html", LIST_FRAGMENTS, context)


@login_required
@require_POST
@in_person_time_zone
def label_apply(request: HttpRequest) -> HttpResponse:
    """Put a label on (action=add) or take it off (action=remove) the selected messages."""
    label_id = request.POST.get("label", "")
    rows = list(messages_for_user(request.user, _ids(request)).select_related("folder__account"))
    if not label_id.isdigit():
        return _result(request, _("Choose a label."), {}, undo=False)
    label = labels.get_label_for_user(request.user, int(label_id))
    if not rows:
        return _result(request, _("Select one or more messages first."), {}, undo=False)
    removing = request.POST.get("label_action") == "remove"
    changed = [m.pk for m in rows if labels.carries(m, label) == removing]
    if removing:
        actions.remove_label(messages=rows, label=label)
        text = _("Label “%(name)s” removed") % {"name": label.name}
    else:
        actions.add_label(messages=rows, label=label)
        text = _("Labelled “%(name)s”") % {"name": label.name}
    # Undo puts back exactly the messages this click changed (see views_actions.undo).
    request.session[UNDO_KEY] = {"text": text, "label": label.pk,
                                 "label_action": "add" if removing else "remove",
                                 "ids": changed}
    return _result(request, text, {m.pk: m.folder_id for m in rows}, undo=True)
