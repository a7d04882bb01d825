"""The start page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    accounts = request.user.mail_accounts.all()  # type: ignore[union-attr]
    return render(request, "home.html", {"accounts": accounts})
