from __future__ import annotations

from django.apps import AppConfig


class MailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webmail.mail"
    label = "mail"
    verbose_name = "Mail store"
