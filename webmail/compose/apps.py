from __future__ import annotations

from django.apps import AppConfig


class ComposeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webmail.compose"
    label = "compose"
    verbose_name = "Compose and send"
