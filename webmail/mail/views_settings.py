"""Personal settings (/settings/) and "always show images from this sender"."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webmail.mail import body, preferences
from webmail.mail.models import Preferences
from webmail.mail.views_body import _frame_message
from webmail.mail.views_common import person


class PreferencesForm(forms.Form):
    theme = forms.ChoiceField(label=gettext_lazy("Theme"), choices=Preferences.THEMES)
    density = forms.ChoiceField(label=gettext_lazy("Density"), choices=Preferences.DENSITIES)
    page_size = forms.TypedChoiceField(label=gettext_lazy("Messages per page"), coerce=int,
                                       choices=Preferences.PAGE_SIZES)
    remote_images = forms.ChoiceField(label=gettext_lazy("Show remote images"),
                                      choices=Preferences.REMOTE_IMAGES)


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    user = person(request)
    prefs = preferences.for_user(user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            preferences.save(user=user, **form.cleaned_data)
            return HttpResponseRedirect(reverse("personal_settings"))
    else:
        form = PreferencesForm(initial={
            "theme": prefs.theme, "density": prefs.density, "page_size": prefs.page_size,
            "remote_images": prefs.remote_images})
    return render(request, "mail/settings.html", {"form": form, "prefs": prefs})


@login_required
@require_POST
def forget_image_sender(request: HttpRequest) -> HttpResponse:
    preferences.forget_sender(user=person(request), address=request.POST.get("address", ""))
    return HttpResponseRedirect(reverse("personal_settings"))


@require_GET
def trust_images(request: HttpRequest, message_id: int) -> HttpResponse:
    """Followed from inside the body frame, which has no session: the signed frame token
    (made for this person and message) is what authorises it, so no other site can."""
    message = _frame_message(request, message_id)
    owner_id = int(message.account.owner_id)
    preferences.trust_sender(user=message.account.owner, message=message)
    token = body.frame_token(owner_id, message.pk)
    target = reverse("message_body", args=[message.pk])
    return HttpResponseRedirect(f"{target}?{urlencode({'images': '1', 't': token})}")
