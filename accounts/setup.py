"""First-run setup: create the first administrator from the web, once."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User

# Once a user exists the answer never changes back, so it is remembered per process.
_has_users = False


def setup_needed() -> bool:
    global _has_users
    if _has_users:
        return False
    _has_users = User.objects.exists()
    return not _has_users


def forget_setup_state() -> None:
    """For tests that empty the user table."""
    global _has_users
    _has_users = False


def create_first_admin(*, username: str, email: str, password: str) -> User | None:
    """Create the first superuser, or return None when someone was faster."""
    with transaction.atomic():
        if User.objects.exists():
            return None
        return User.objects.create_superuser(username=username, email=email, password=password)
