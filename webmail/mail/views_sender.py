"""Who sent a message: the reading pane's sender-verification fragment.

The pane includes the kept result (sender_check.stored_check) when there is one; when
there is none it shows a placeholder that asks this view, which verifies once (DNS
lookups with short timeouts) and keeps the answer, so the pane itself never waits.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webmail.mail.access import get_message_for_user
from webmail.mail.sender_check import check_sender, stored_check


@login_required
@require_GET
def message_sender(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_message_for_user(request.user, message_id)
    check = stored_check(message) or check_sender(message)
    return render(request, "mail/partials/sender_check.html",
                  {"message": message, "sender_check": check, "sender_pending": False})
