"""Re-encrypt every stored credential with the first key of WEBMAIL_CREDENTIAL_KEYS.

Rotation: put the new key first (keep the old ones after it), run this, then remove
the old keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.rotation import rotate_all_credentials


class Command(BaseCommand):
    help = "Re-encrypt all stored credentials with the current (first) key."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rotate_all_credentials()
        self.stdout.write(f"Re-encrypted credentials of {count} mail accounts.")
