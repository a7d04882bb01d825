"""First run: until a user exists, every page leads to the setup page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

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


# Paths a half-logged-in person may reach: the second step itself and the way out.
_TWO_FACTOR_OPEN = ("/2fa/", "/logout/", "/static/", "/healthz")


class TwoFactorMiddleware:
    """After the password: ask for the second factor, or force its setup when required."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(_TWO_FACTOR_OPEN):
            from accounts import twofactor

            verified = user.is_verified()  # type: ignore[union-attr,attr-defined]
            step = None if verified else twofactor.second_step(user)  # type: ignore[arg-type]
            if step == "verify":
                return redirect(f"{reverse('twofactor_verify')}?next={quote(request.path)}")
            if step == "setup":
                return redirect(reverse("twofactor_setup"))
        return self.get_response(request)
