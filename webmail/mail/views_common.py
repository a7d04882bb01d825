"""What every mail view shares: the person's time zone, fragment choice, Vary."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.models import User

# Set by static/js/app.js from the browser (Intl), so dates show in the person's zone.
TIME_ZONE_COOKIE = "tz"

View = Callable[..., HttpResponse]


def person(request: HttpRequest) -> User:
    """The logged-in person (views are behind login_required)."""
    user = request.user
    assert isinstance(user, User)
    return user


def _zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    name = request.COOKIES.get(TIME_ZONE_COOKIE, "")
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def in_person_time_zone(view: View) -> View:
    """Render dates in the zone the browser reported (UTC until it has)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        zone = _zone(request)
        if zone is None:
            return view(request, *args, **kwargs)
        with timezone.override(zone):
            return view(request, *args, **kwargs)

    return wrapper


def row_urls() -> dict[str, str]:
    """URLs every list row links to, reversed once per page instead of per row."""
    from django.urls import reverse

    return {
        "action": reverse("message_action"),
        "message": reverse("message", args=[0]).removesuffix("0/"),
    }


def htmx_target(request: HttpRequest) -> str | None:
    htmx = getattr(request, "htmx", None)
    return htmx.target if htmx else None


def render_page_or_fragment(
    request: HttpRequest,
    page: str,
    fragments: dict[str, str],
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """One view, page or fragment: an htmx request aimed at a known element gets that
    element's template alone; anything else gets the whole page."""
    target = htmx_target(request)
    template = fragments.get(target or "", page) if getattr(request, "htmx", False) else page
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
