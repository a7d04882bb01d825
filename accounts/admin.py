"""Admin for people and their mail accounts. Credentials are write-only here too."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import MailAccount, User

admin.site.site_header = "Webmail administration"
admin.site.site_title = "Webmail admin"


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ("username", "email", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")


class MailAccountAdminForm(forms.ModelForm[MailAccount]):
    incoming_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Write-only. Leave empty to keep the current password.",
    )
    smtp_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Write-only. Leave empty to keep the current password.",
    )

    class Meta:
        model = MailAccount
        fields = [
            "owner", "display_name", "email", "protocol", "incoming_host", "incoming_port",
            "incoming_security", "incoming_username", "incoming_password", "smtp_host",
            "smtp_port", "smtp_security", "smtp_same_credentials", "smtp_username",
            "smtp_password", "trusted_cert_sha256", "pop3_policy", "pop3_delete_after_days",
            "poll_interval_minutes", "enabled",
        ]

    def save(self, commit: bool = True) -> MailAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("incoming_password"):
            account.set_incoming_password(self.cleaned_data["incoming_password"])
        if self.cleaned_data.get("smtp_password"):
            account.set_smtp_password(self.cleaned_data["smtp_password"])
        if commit:
            account.save()
        return account


@admin.register(MailAccount)
class MailAccountAdmin(admin.ModelAdmin[MailAccount]):
    form = MailAccountAdminForm
    list_display = ("email", "owner", "protocol", "incoming_host", "enabled", "sync_status",
                    "last_sync_at")
    list_filter = ("protocol", "enabled", "sync_status")
    search_fields = ("email", "incoming_host", "owner__username", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("last_sync_at", "sync_status", "last_error", "sync_progress",
                       "sync_lease_owner", "sync_lease_until", "created_at", "updated_at")
    autocomplete_fields = ("owner",)

