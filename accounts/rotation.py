"""Key rotation for stored credentials."""

from __future__ import annotations

from django.db import transaction

from accounts import credentials
from accounts.models import MailAccount
from accounts.oauth.models import OAuthClient

OAUTH_TOKEN_FIELDS = ("oauth_refresh_token_encrypted", "oauth_access_token_encrypted")

# Accounts re-encrypted per transaction: bounded work per commit on a big install.
ROTATION_BATCH = 500


def rotate_all_credentials() -> int:
    rotated = 0
    ids = list(MailAccount.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), ROTATION_BATCH):
        with transaction.atomic():
            batch = MailAccount.objects.select_for_update().filter(
                pk__in=ids[start : start + ROTATION_BATCH]
            )
            for account in batch:
                account.incoming_password_encrypted = credentials.rotate(
                    account.incoming_password_encrypted
                )
                account.smtp_password_encrypted = credentials.rotate(
                    account.smtp_password_encrypted
                )
                for name in OAUTH_TOKEN_FIELDS:
                    setattr(account, name, credentials.rotate(getattr(account, name)))
                account.save(update_fields=["incoming_password_encrypted",
                                            "smtp_password_encrypted", *OAUTH_TOKEN_FIELDS])
                rotated += 1
    with transaction.atomic():
        for client in OAuthClient.objects.select_for_update():
            client.client_secret_encrypted = credentials.rotate(client.client_secret_encrypted)
            client.save(update_fields=["client_secret_encrypted"])
    return rotated
