"""The page's heartbeat: a cheap "what changed since" answer polled by htmx."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webmail.mail import selectors
from webmail.mail.views_common import person


@login_required
@require_GET
def changes(request: HttpRequest) -> HttpResponse:
    """Answer with the current version; when it differs from the page's, also fire
    "mailChanged" (the list reloads) and "unreadChanged" (the title's count)."""
    stamp = selectors.changes_stamp(person(request))
    seen = request.GET.get("v", "")
    response = render(request, "mail/partials/live.html", {"version": stamp["version"]})
    if seen and seen != stamp["version"]:
        response["HX-Trigger"] = json.dumps({
            "mailChanged": {"newest": stamp["newest"]},
            "unreadChanged": {"unread": stamp["unread"]},
        })
    response["Cache-Control"] = "no-store"
    return response
