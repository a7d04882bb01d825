"""Pages for two-factor login: set up, verify after the password, turn off."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts import twofactor
from accounts.models import User


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if twofactor.is_enrolled(user):
        context = {"required": twofactor.is_required(user)}
        return render(request, "accounts/2fa_enrolled.html", context)
    device = twofactor.pending_totp_device(user)
    error = ""
    if request.method == "POST":
        codes = twofactor.confirm_totp(user, request.POST.get("token", ""))
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            return render(request, "accounts/2fa_recovery_codes.html", {"codes": codes})
        error = _("That code is not right. Check the time on your phone and try again.")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return render(
        request,
        "accounts/2fa_setup.html",
        {"secret": device.config_url.split("secret=")[1].split("&")[0], "qr_svg": qr_svg,
         "error": error, "required": twofactor.is_required(user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    error = ""
    if request.method == "POST":
        device = twofactor.verify(user, request.POST.get("token", ""))
        if device is not None:
            otp_login(request, device)
            return redirect(next_url)
        error = _("That code is not right.")
    return render(request, "accounts/2fa_verify.html", {"error": error, "next": next_url})


@login_required
@require_POST
def new_codes(request: HttpRequest) -> HttpResponse:
    codes = twofactor.new_recovery_codes(_user(request))
    return render(request, "accounts/2fa_recovery_codes.html", {"codes": codes})


@login_required
@require_POST
def disable(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if twofactor.is_required(user):
        messages.error(request, _("Your administrator requires two-factor login."))
        return redirect("twofactor_setup")
    if not user.check_password(request.POST.get("password", "")):
        messages.error(request, _("Wrong password: two-factor login stays on."))
        return redirect("twofactor_setup")
    twofactor.disable(user)
    logout(request)
    return redirect("login")
