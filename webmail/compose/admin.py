"""Admin: identities editable; drafts, the outbox and contacts read-mostly."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, ngettext

from webmail.compose import outbox
from webmail.compose.models import Contact, Draft, Identity, Outbox


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin[Identity]):
    list_display = ("address", "name", "account", "is_default", "sent_copy")
    list_filter = ("is_default", "sent_copy")
    search_fields = ("address", "name", "account__email")
    fields = ("account", "name", "address", "reply_to", "signature_html", "signature_text",
              "is_default", "sent_copy")


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin[Outbox]):
    list_display = ("subject", "owner", "account", "state", "attempts", "next_attempt_at",
                    "sent_at", "sent_copy")
    list_filter = ("state", "sent_copy")
    search_fields = ("subject", "message_id", "envelope_from")
    fields = ("owner", "account", "identity", "state", "phase", "attempts", "message_id",
              "subject", "envelope_from", "recipients", "smtputf8", "size", "created_at",
              "undo_until", "scheduled_at", "next_attempt_at", "sending_started_at",
              "sent_at", "finished_at", "last_error", "error_code", "recipient_results",
              "sent_copy", "sent_copy_error")
    readonly_fields = fields
    actions = ("retry_messages", "cancel_messages")

    def has_add_permission(self, request: object) -> bool:
        return False

    @admin.action(description=gettext_lazy("Retry (failed messages)"))
    def retry_messages(self, request: HttpRequest, queryset: QuerySet[Outbox]) -> None:
        done = 0
        for row in queryset:
            if outbox.retry_failed(row):
                self.log_change(request, row, "Retried from the admin")
                done += 1
        self.message_user(request, ngettext("Queued %(count)d failed message again.",
                                            "Queued %(count)d failed messages again.", done)
                          % {"count": done})

    @admin.action(description=gettext_lazy("Cancel (queued messages)"))
    def cancel_messages(self, request: HttpRequest, queryset: QuerySet[Outbox]) -> None:
        done = 0
        for row in queryset:
            if outbox.cancel(row):
                self.log_change(request, row, "Cancelled from the admin")
                done += 1
        self.message_user(request, ngettext("Cancelled %(count)d queued message.",
                                            "Cancelled %(count)d queued messages.", done)
                          % {"count": done})


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin[Draft]):
    list_display = ("subject", "owner", "account", "state", "version", "remote_version",
                    "updated_at")
    list_filter = ("state",)
    fields = ("owner", "account", "identity", "state", "to", "cc", "bcc", "subject",
              "kind", "message_id", "version", "remote_version", "remote_uid",
              "remote_error", "created_at", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ("address", "name", "owner", "use_count", "last_used_at", "saved")
    search_fields = ("address", "name")
    fields = ("owner", "address", "name", "use_count", "last_used_at", "saved")
