"""Sign-up page, following the admin's registration policy."""

from __future__ import annotations

from django import forms
from django.contrib.auth import login
from django.contrib.auth.forms import BaseUserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import signup
from accounts.models import RegistrationPolicy, SiteSettings, User


class SignupForm(BaseUserCreationForm[User]):
    email = forms.EmailField()

    class Meta:
        model = User
        fields = ("username", "email")


@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("invite", "") or request.POST.get("invite", "")
    invitation = signup.valid_invitation(token)
    site = SiteSettings.current()
    if invitation is None and site.registration_policy == RegistrationPolicy.INVITE:
        return render(request, "accounts/signup_closed.html", status=403)
    initial = {"email": invitation.email} if invitation else None
    form = SignupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user = signup.sign_up(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                invitation_token=token,
            )
        except signup.SignupRefused as exc:
            form.add_error("email", str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form, "invite": token})
