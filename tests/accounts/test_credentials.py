from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts import credentials
from accounts.models import MailAccount
from tests.conftest import make_account, make_user


def _raw_columns(account_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT incoming_password_encrypted, smtp_password_encrypted "
            "FROM accounts_mailaccount WHERE id = %s",
            [account_id],
        )
        row = cursor.fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.dbspecific
@pytest.mark.django_db
def test_no_password_is_stored_in_clear() -> None:
    account = make_account(make_user("alice"), password="hunter2-very-secret")
    account.smtp_same_credentials = False
    account.smtp_username = "alice-smtp"
    account.set_smtp_password("smtp-secret-42")
    account.save()

    incoming, smtp = _raw_columns(account.pk)

    assert "hunter2" not in incoming and incoming
    assert "smtp-secret" not in smtp and smtp
    fresh = MailAccount.objects.get(pk=account.pk)
    assert fresh.incoming_password() == "hunter2-very-secret"
    assert fresh.smtp_login() == ("alice-smtp", "smtp-secret-42")


@pytest.mark.django_db
def test_rotation_reencrypts_and_old_keys_decrypt_until_removed(settings: object) -> None:
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old_key]  # type: ignore[attr-defined]
    account = make_account(make_user("alice"), password="rotate-me")
    before, _ = _raw_columns(account.pk)

    # New key first, old key still listed: old tokens still decrypt before rotation.
    settings.CREDENTIAL_KEYS = [new_key, old_key]  # type: ignore[attr-defined]
    assert MailAccount.objects.get(pk=account.pk).incoming_password() == "rotate-me"

    call_command("rotate_credentials")
    after, _ = _raw_columns(account.pk)
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after.encode()) == b"rotate-me"

    # Once rotated, the old key can go; an old token no longer decrypts without it.
    settings.CREDENTIAL_KEYS = [new_key]  # type: ignore[attr-defined]
    assert MailAccount.objects.get(pk=account.pk).incoming_password() == "rotate-me"
    with pytest.raises(credentials.CredentialError):
        credentials.decrypt(before)


def test_empty_secret_stays_empty() -> None:
    assert credentials.encrypt("") == ""
    assert credentials.decrypt("") == ""
