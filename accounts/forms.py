"""Forms for a person's own mail accounts and the first-run setup."""

from __future__ import annotations

import ipaddress
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from accounts.hosts import HostNotAllowed, check_host_allowed
from accounts.models import DEFAULT_PORTS, MailAccount
from webmail.protocols.errors import ProtocolError

# Passwords are write-only: the widget never renders a stored value back.
_PASSWORD_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class MailAccountForm(forms.ModelForm[MailAccount]):
    incoming_password = forms.CharField(
        widget=_PASSWORD_WIDGET,
        required=False,
        strip=False,
        label=_("Password"),
        help_text=_("Leave empty to keep the current password."),
    )
    smtp_password = forms.CharField(
        widget=_PASSWORD_WIDGET,
        required=False,
        strip=False,
        label=_("SMTP password"),
        help_text=_("Only when SMTP uses other credentials. Leave empty to keep the current one."),
    )

    class Meta:
        model = MailAccount
        fields = [
            "display_name",
            "email",
            "protocol",
            "incoming_host",
            "incoming_port",
            "incoming_security",
            "incoming_username",
            "incoming_password",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_same_credentials",
            "smtp_username",
            "smtp_password",
            "pop3_policy",
            "pop3_delete_after_days",
            "poll_interval_minutes",
            "authserv_id",
            "enabled",
        ]
        labels = {
            "display_name": _("Display name"), "email": _("Email address"),
            "protocol": _("Protocol"), "incoming_host": _("Incoming server"),
            "incoming_port": _("Incoming port"), "incoming_security": _("Incoming security"),
            "incoming_username": _("Username"), "smtp_host": _("SMTP server"),
            "smtp_port": _("SMTP port"), "smtp_security": _("SMTP security"),
            "smtp_same_credentials": _("Same login for SMTP"),
            "smtp_username": _("SMTP username"), "pop3_policy": _("POP3: after download"),
            "pop3_delete_after_days": _("POP3: delete after (days)"),
            "poll_interval_minutes": _("Check for mail every (minutes)"),
            "enabled": _("Enabled"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["incoming_password"].required = True
            self.fields["incoming_password"].help_text = ""
            self.fields["incoming_port"].initial = DEFAULT_PORTS[("imap", "tls")]

    def clean_incoming_host(self) -> str:
        return _clean_host(self.cleaned_data["incoming_host"])

    def clean_authserv_id(self) -> str:
        return str(self.cleaned_data.get("authserv_id", "")).strip().lower()

    def clean_smtp_host(self) -> str:
        host = self.cleaned_data.get("smtp_host", "")
        return _clean_host(host) if host else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("smtp_host") and not data.get("smtp_same_credentials"):
            if not data.get("smtp_username"):
                self.add_error(
                    "smtp_username", "Give the SMTP username, or use the same credentials."
                )
            if not data.get("smtp_password") and not self.instance.smtp_password_encrypted:
                self.add_error("smtp_password", "Give the SMTP password.")
        return data

    def save(self, commit: bool = True) -> MailAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("incoming_password"):
            account.set_incoming_password(self.cleaned_data["incoming_password"])
        if self.cleaned_data.get("smtp_password"):
            account.set_smtp_password(self.cleaned_data["smtp_password"])
        if commit:
            account.save()
        return account


def _clean_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if not host or any(c.isspace() or c in "/@" for c in host) or (
        ":" in host and not _is_ipv6(host)
    ):
        raise forms.ValidationError("Enter a host name such as imap.example.com.")
    try:
        check_host_allowed(host, 0, timeout=3)
    except HostNotAllowed as exc:
        raise forms.ValidationError(str(exc)) from exc
    except ProtocolError:
        pass  # a name that does not resolve now: the connection check will say so
    return host


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host.strip("[]"))
    except ValueError:
        return False
    return True


class SetupForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        elif data.get("password"):
            try:
                validate_password(data["password"])
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data
