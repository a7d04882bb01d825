"""A store backed up with `manage.py backup` comes back whole with `manage.py restore`.

Runs on whichever database the test run uses: pg_dump/pg_restore on PostgreSQL, SQLite's
online backup API on SQLite. The restore goes to a new database and a new blob
directory, and what is read back there is what a person would see: the messages, their
exact raw bytes, and the upstream passwords decrypted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from accounts.models import MailAccount
from tests.conftest import make_account, make_user
from tests.mail.ui_factories import make_folder, make_full_message
from tests.operations.conftest import database_url, manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.dbspecific]

RAWS = [
    (f"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\n"
     f"Subject: Backup {n}\r\nMessage-ID: <backup-{n}@example.test>\r\n"
     f"Date: Mon, 2 Nov 2026 10:0{n}:00 +0000\r\n\r\nBody number {n}, kept byte for byte.\r\n"
     ).encode() for n in range(3)
]
READ_BACK = """
import hashlib, json
from accounts.models import MailAccount
from webmail.mail import blobs
from webmail.mail.models import Message
print(json.dumps({
    "messages": sorted(
        [m.subject, hashlib.sha256(blobs.get(m.blob_id)).hexdigest()]
        for m in Message.objects.all()),
    "passwords": sorted(
        [a.email, a.incoming_password(), a.smtp_login()[1]]
        for a in MailAccount.objects.all()),
}))
"""


@pytest.fixture
def blob_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "blobs"
    storage = {"BACKEND": "django.core.files.storage.FileSystemStorage",
               "OPTIONS": {"location": str(root)}}
    with override_settings(STORAGES={**settings.STORAGES, "blobs": storage}):
        yield root


@pytest.fixture
def restore_database(tmp_path: Path) -> Iterator[str]:
    """A new, empty database to restore into (a new file, or a new PostgreSQL database)."""
    if connection.vendor == "sqlite":
        yield database_url({}, str(tmp_path / "restored" / "webmail.sqlite3"))
        return
    name = f"webmail_restore_{tmp_path.name[-20:]}".replace("-", "_").lower()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(connection.settings_dict, name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_store() -> None:
    alice = make_user("alice")
    account = make_account(alice, password="imap-pw-Backup1", smtp_host="smtp.example.test",
                           smtp_same_credentials=False, smtp_username="alice-smtp")
    account.set_smtp_password("smtp-pw-Backup2")
    account.save()
    inbox = make_folder(account)
    for raw in RAWS:
        make_full_message(inbox, raw)


def test_a_restored_backup_has_the_messages_their_raw_bytes_and_the_credentials(
        tmp_path: Path, blob_root: Path, restore_database: str) -> None:
    fill_store()
    backup_dir = tmp_path / "backup"
    source = database_url(connection.settings_dict)

    made = manage("backup", str(backup_dir), data_dir=tmp_path / "source-data",
                  database=source, blob_root=blob_root)
    assert "3 blob files" in made.stdout
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["engine"] == connection.vendor
    assert manifest["blob_rows"] == 3

    restored_blobs = tmp_path / "restored" / "blobs"
    manage("restore", str(backup_dir), data_dir=tmp_path / "restored",
           database=restore_database, blob_root=restored_blobs)
    read = manage("shell", "-c", READ_BACK, data_dir=tmp_path / "restored",
                  database=restore_database, blob_root=restored_blobs)

    back = json.loads(read.stdout.strip().splitlines()[-1])  # after the shell's banner
    assert back["messages"] == sorted(
        [f"Backup {n}", hashlib.sha256(raw).hexdigest()] for n, raw in enumerate(RAWS))
    assert back["passwords"] == [["alice@mail.example.test", "imap-pw-Backup1",
                                  "smtp-pw-Backup2"]]


def test_the_backup_holds_no_credential_key_and_no_clear_password(
        tmp_path: Path, blob_root: Path) -> None:
    fill_store()
    backup_dir = tmp_path / "backup"

    manage("backup", str(backup_dir), data_dir=tmp_path / "source-data",
           database=database_url(connection.settings_dict), blob_root=blob_root)

    every_byte = b"".join(path.read_bytes() for path in backup_dir.rglob("*") if path.is_file())
    assert MailAccount.objects.get().incoming_password_encrypted.encode() in every_byte \
        or connection.vendor == "postgresql"  # pg_dump's custom format compresses
    for secret in [*settings.CREDENTIAL_KEYS, "imap-pw-Backup1", "smtp-pw-Backup2"]:
        assert secret.encode() not in every_byte


def test_restore_refuses_a_database_that_is_not_empty(
        tmp_path: Path, blob_root: Path) -> None:
    fill_store()
    backup_dir = tmp_path / "backup"
    source = database_url(connection.settings_dict)
    manage("backup", str(backup_dir), data_dir=tmp_path / "source-data", database=source,
           blob_root=blob_root)

    refused = manage("restore", str(backup_dir), data_dir=tmp_path / "source-data",
                     database=source, blob_root=blob_root, check=False)

    assert refused.returncode != 0
    assert "not empty" in refused.stderr
