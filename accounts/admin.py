"""Admin for people and their mail accounts. Credentials are write-only here too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.mail import send_mail
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext_lazy, ngettext

from accounts import actions, signup
from accounts.forms import MailAccountForm
from accounts.models import Invitation, MailAccount, SiteSettings, User

admin.site.site_header = "Webmail administration"
admin.site.site_title = "Webmail admin"


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        actions.delete_user(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            actions.delete_user(user=user)

    list_display = ("username", "email", "is_active", "is_staff", "require_2fa", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "require_2fa")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Security", {"fields": ("require_2fa",)}))


class MailAccountAdminForm(MailAccountForm):
    """The person's form (write-only passwords, host checks) plus owner and the pin."""

    class Meta(MailAccountForm.Meta):
        fields = ["owner", *MailAccountForm.Meta.fields, "trusted_cert_sha256"]


@admin.register(MailAccount)
class MailAccountAdmin(admin.ModelAdmin[MailAccount]):
    form = MailAccountAdminForm
    list_display = ("email", "owner", "protocol", "incoming_host", "enabled", "sync_status",
                    "last_sync_at", "last_sync_metrics", "message_count", "storage_used", "quota",
                    "short_error")
    list_filter = ("protocol", "enabled", "sync_status")
    search_fields = ("email", "incoming_host", "owner__username", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("last_sync_at", "sync_status", "last_error", "sync_progress",
                       "sync_lease_owner", "sync_lease_until", "created_at", "updated_at")
    autocomplete_fields = ("owner",)
    actions = ("sync_now", "resync_from_scratch", "disable_accounts", "enable_accounts")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailAccount]:
        return super().get_queryset(request).annotate(
            _messages=Count("messages", distinct=True),
            _bytes=Sum("messages__size"),
        )

    @admin.display(description=gettext_lazy("Messages"), ordering="_messages")
    def message_count(self, obj: MailAccount) -> int:
        return int(getattr(obj, "_messages", 0) or 0)

    @admin.display(description=gettext_lazy("Storage"), ordering="_bytes")
    def storage_used(self, obj: MailAccount) -> str:
        return filesizeformat(getattr(obj, "_bytes", 0) or 0)

    @admin.display(description=gettext_lazy("Quota"))
    def quota(self, obj: MailAccount) -> str:
        quota = (obj.sync_progress or {}).get("quota") or {}
        if not quota.get("limit"):
            return "—"
        return f"{filesizeformat(quota.get('used', 0))} of {filesizeformat(quota['limit'])}"

    @admin.display(description=gettext_lazy("Last sync"))
    def last_sync_metrics(self, obj: MailAccount) -> str:
        last = (obj.sync_progress or {}).get("last_sync") or {}
        if not last:
            return "—"
        return (f"{last.get('messages_fetched', 0)} msgs, "
                f"{filesizeformat(last.get('bytes_fetched', 0))}, {last.get('seconds', 0):.1f} s")

    @admin.display(description=gettext_lazy("Last error"))
    def short_error(self, obj: MailAccount) -> str:
        return obj.last_error[:80]

    def delete_model(self, request: HttpRequest, obj: MailAccount) -> None:
        actions.delete_mail_account(account=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MailAccount]) -> None:
        actions.delete_accounts_and_blobs(queryset)

    @admin.action(description=gettext_lazy("Sync now"))
    def sync_now(self, request: HttpRequest, queryset: QuerySet[MailAccount]) -> None:
        from webmail.sync.tasks import sync_account_task

        for account in queryset:
            sync_account_task.delay(account.pk)
            self.log_change(request, account, "Sync now")
        count = len(queryset)
        self.message_user(request, ngettext("Queued a sync of %(count)d account.",
                                            "Queued a sync of %(count)d accounts.", count)
                          % {"count": count})

    @admin.action(description=gettext_lazy("Resync from scratch (keeps queued actions)"))
    def resync_from_scratch(self, request: HttpRequest, queryset: QuerySet[MailAccount]) -> None:
        from webmail.sync.tasks import sync_account_task

        for account in queryset:
            actions.forget_sync_state(account=account)
            sync_account_task.delay(account.pk)
            self.log_change(request, account, "Resync from scratch")
        count = len(queryset)
        self.message_user(request, ngettext("Queued a full resync of %(count)d account.",
                                            "Queued a full resync of %(count)d accounts.", count)
                          % {"count": count})

    @admin.action(description=gettext_lazy("Disable"))
    def disable_accounts(self, request: HttpRequest, queryset: QuerySet[MailAccount]) -> None:
        for account in queryset:
            self.log_change(request, account, "Disabled")
        queryset.update(enabled=False)

    @admin.action(description=gettext_lazy("Enable"))
    def enable_accounts(self, request: HttpRequest, queryset: QuerySet[MailAccount]) -> None:
        for account in queryset:
            self.log_change(request, account, "Enabled")
        queryset.update(enabled=True)


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin[SiteSettings]):
    list_display = ("__str__", "registration_policy", "require_2fa_for_all",
                    "max_accounts_per_user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SiteSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ("email", "created_by", "created_at", "expires_at", "used_at")
    search_fields = ("email",)
    fields = ("email", "link", "expires_at", "used_at", "created_by")
    readonly_fields = ("link", "expires_at", "used_at", "created_by")

    @admin.display(description=gettext_lazy("Invitation link"))
    def link(self, obj: Invitation) -> str:
        return f"{reverse('signup')}?invite={obj.token}" if obj.token else "(made on save)"

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        if not change:
            made = signup.create_invitation(
                email=obj.email, created_by=request.user if isinstance(request.user, User) else None
            )
            obj.pk, obj.token, obj.expires_at = made.pk, made.token, made.expires_at
            obj.created_by = made.created_by
            url = request.build_absolute_uri(self.link(made))
            send_mail(
                "Your invitation to Webmail",
                f"You are invited to create an account: {url}",
                None,
                [obj.email],
                fail_silently=True,
            )
            return
        super().save_model(request, obj, form, change)


@admin.register(LogEntry)
class AuditLogAdmin(admin.ModelAdmin[LogEntry]):
    """The audit log: who did what in the admin, and when. Read-only."""

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag",
                    "change_message")
    list_filter = ("action_flag", "content_type")
    search_fields = ("object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
from accounts.oauth import admin as _oauth_admin  # noqa: E402,F401 - registers OAuthClient
