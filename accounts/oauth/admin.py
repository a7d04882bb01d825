"""Admin: register OAuth2 clients; the secret is write-only and stored encrypted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.oauth.models import OAuthClient
from accounts.oauth.presets import apply_preset


class OAuthClientForm(forms.ModelForm[OAuthClient]):
    client_secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted, never shown again. Leave empty to keep the current one.")

    class Meta:
        model = OAuthClient
        fields = ("name", "provider", "enabled", "client_id", "authorization_url",
                  "token_url", "revocation_url", "scopes", "incoming_protocol",
                  "incoming_host", "incoming_port", "incoming_security", "smtp_host",
                  "smtp_port", "smtp_security")


@admin.register(OAuthClient)
class OAuthClientAdmin(admin.ModelAdmin[OAuthClient]):
    form = OAuthClientForm
    list_display = ("name", "provider", "enabled", "incoming_host", "smtp_host")
    fieldsets = (
        (None, {"fields": ("name", "provider", "enabled", "client_id", "client_secret")}),
        ("Endpoints (empty: the provider's preset)", {"fields": (
            "authorization_url", "token_url", "revocation_url", "scopes")}),
        ("Mail servers", {"fields": (
            "incoming_protocol", "incoming_host", "incoming_port", "incoming_security",
            "smtp_host", "smtp_port", "smtp_security")}),
    )

    def save_model(self, request: HttpRequest, obj: OAuthClient, form: Any,
                   change: bool) -> None:
        secret = form.cleaned_data.get("client_secret")
        if secret:
            obj.set_client_secret(secret)
        apply_preset(obj)
        super().save_model(request, obj, form, change)
