"""Connect, reconnect and disconnect an account with OAuth2 (thin views over flow.py)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_mail_account_for_user
from accounts.models import AuthKind, User
from accounts.oauth import flow, tokens
from accounts.oauth.models import OAuthClient


class ConnectForm(forms.Form):
    email = forms.EmailField(label=_("Your email address at the provider"))


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _to_provider(request: HttpRequest, client: OAuthClient, url: str) -> HttpResponse:
    """A page that moves on to the provider. Not a 302: our pages' CSP `form-action
    'self'` also covers the redirects after a form is sent, and stops them there."""
    return render(request, "accounts/oauth/redirect.html", {"url": url, "client": client})


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(OAuthClient, pk=client_id, enabled=True)
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _to_provider(request, client,
                            flow.start(request, client, email=form.cleaned_data["email"]))
    return render(request, "accounts/oauth/connect.html", {"form": form, "client": client})


@login_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    try:
        flow.finish(request, _user(request))
    except flow.FlowError as exc:
        return render(request, "accounts/oauth/error.html", {"message": str(exc)}, status=400)
    return redirect("account_list")


@login_required
@require_POST
def reconnect(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_mail_account_for_user(_user(request), account_id)
    if account.auth_kind != AuthKind.OAUTH2 or account.oauth_client is None:
        return redirect("account_list")
    return _to_provider(request, account.oauth_client, flow.start(
        request, account.oauth_client, email=account.email, account=account))


@login_required
@require_POST
def disconnect(request: HttpRequest, account_id: int) -> HttpResponse:
    """Revoke the grant at the provider; the account stays, paused, until reconnected."""
    account = get_mail_account_for_user(_user(request), account_id)
    if account.auth_kind == AuthKind.OAUTH2:
        tokens.revoke(account)
        account.reconnect_needed = True
        account.save()
    return redirect("account_list")
