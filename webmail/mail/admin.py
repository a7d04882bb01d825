"""Admin views of the store: read-mostly, for operators looking into an account."""

from __future__ import annotations

from django.contrib import admin

from webmail.mail.models import Folder, IdleLease, IdleSupervisor, Message, UpstreamOperation


@admin.register(Folder)
class FolderAdmin(admin.ModelAdmin[Folder]):
    list_display = ("name", "account", "role", "total_count", "unread_count", "uidvalidity",
                    "last_synced_at")
    list_filter = ("role", "local_only")
    search_fields = ("name", "account__email")
    list_select_related = ("account",)
    readonly_fields = ("uidvalidity", "uidnext", "highestmodseq", "last_seen_uid",
                       "last_synced_at", "sync_progress", "total_count", "unread_count")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    # Message contents are private: the list shows only what an operator needs.
    list_display = ("id", "account", "folder", "uid", "size", "body_state", "date")
    list_filter = ("body_state",)
    search_fields = ("account__email", "message_id")
    list_select_related = ("account", "folder")
    fields = ("account", "folder", "uidvalidity", "uid", "modseq", "size", "body_state",
              "blob", "parse_warnings", "date", "internal_date")
    readonly_fields = fields
    show_full_result_count = False  # no COUNT(*) over a big table on every page


@admin.register(UpstreamOperation)
class UpstreamOperationAdmin(admin.ModelAdmin[UpstreamOperation]):
    list_display = ("id", "account", "kind", "state", "attempts", "last_error", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("account__email", "last_error")
    list_select_related = ("account",)
    readonly_fields = ("account", "kind", "arguments", "attempts", "created_at", "finished_at")


@admin.register(IdleSupervisor)
class IdleSupervisorAdmin(admin.ModelAdmin[IdleSupervisor]):
    list_display = ("owner", "expires_at")
    readonly_fields = ("owner", "expires_at")


@admin.register(IdleLease)
class IdleLeaseAdmin(admin.ModelAdmin[IdleLease]):
    """Which supervisor holds push for which account; an expired lease is taken over."""

    list_display = ("account", "owner", "expires_at")
    search_fields = ("account__email", "owner")
    list_select_related = ("account",)
    readonly_fields = ("account", "owner", "expires_at")
