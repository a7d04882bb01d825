"""Address book pages: list and search, add or change, remove."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from webmail.compose import address_book


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def address_book_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    error = ""
    if request.method == "POST":
        try:
            contact = address_book.save_contact(
                owner=user, address=request.POST.get("address", ""),
                name=request.POST.get("name", ""),
            )
        except address_book.HeaderValueError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Saved {contact}.")
            return redirect("address_book")
    query = request.GET.get("q", "").strip()
    return render(request, "compose/address_book.html", {
        "contacts": address_book.contacts_for(user, query), "query": query, "error": error,
        "posted": request.POST,
    })


@login_required
@require_POST
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = address_book.get_contact_for_user(_user(request), contact_id)
    address_book.delete_contact(contact)
    messages.success(request, f"Removed {contact.address}.")
    return redirect("address_book")
