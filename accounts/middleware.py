"""First run: until a user exists, every page leads to the setup page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.setup import setup_needed

# Paths that must answer before the first admin exists.
_OPEN_PREFIXES = ("/setup/", "/healthz", "/static/")


class FirstRunMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(_OPEN_PREFIXES) and setup_needed():
            return redirect(reverse("setup"))
        return self.get_response(request)
