"""The search page, and its results fragment for htmx search-as-you-type."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts.models import User
from webmail.search import imap_merge
from webmail.search.query import QueryError
from webmail.search.service import Order, SearchResults, search_messages


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    query = request.GET.get("q", "").strip()
    order: Order = "date" if request.GET.get("order") == "date" else "relevance"
    account = request.GET.get("account", "")
    account_id = int(account) if account.isdigit() else None
    results: SearchResults | None = None
    error: QueryError | None = None
    if query:
        try:
            results = search_messages(
                user, query, account_id=account_id, order=order,
                after_cursor=request.GET.get("after") or None,
                ask_server=imap_merge.enabled() and request.GET.get("server") == "1",
            )
        except QueryError as exc:
            error = exc
    context = {
        "q": query, "order": order, "account_id": account_id, "results": results,
        "error": error, "accounts": user.mail_accounts.order_by("email"),
        "ask_server": imap_merge.enabled(), "after": request.GET.get("after", ""),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "more-results":
        template = "search/partials/hits.html"
    elif htmx:
        template = "search/partials/results.html"
    else:
        template = "search/search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
