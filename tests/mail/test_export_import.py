from __future__ import annotations

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_account
from webmail.mail import actions, blobs, mailboxes
from webmail.mail.models import Folder, Message

MESSAGES = [
    b"From: a@example.test\r\nSubject: one\r\n\r\nFrom the start of a line.\r\n>From quoted\r\n",
    b"From: b@example.test\r\nSubject: =?utf-8?q?t=C3=A9l=C3=A9?=\r\n\r\nBody \xc3\xa9\r\n",
    b"Subject: three\r\nFrom: c@example.test\r\n\r\n\r\nFrom \r\n>>From x\r\n",
]


def _folders(owner: User) -> tuple[Folder, Folder]:
    account = make_account(owner, protocol="pop3")
    inbox = Folder.objects.create(account=account, name="INBOX", role="inbox", local_only=True)
    archive = Folder.objects.create(account=account, name="Archive", role="archive",
                                    local_only=True)
    return inbox, archive


def _raw_in(folder: Folder) -> list[bytes]:
    rows = Message.objects.filter(folder=folder).order_by("id")
    return [blobs.get(m.blob_id) for m in rows if m.blob_id]


def test_mbox_quoting_round_trips_from_lines() -> None:
    data = b"".join(mailboxes.mbox_entry(raw) for raw in MESSAGES)
    assert list(mailboxes.split_mbox(data)) == MESSAGES


def test_export_then_import_of_a_folder_gives_the_same_bytes(
    alice: User, alice_client: Client
) -> None:
    inbox, archive = _folders(alice)
    for raw in MESSAGES:
        actions.append_message(folder=inbox, raw=raw)

    for fmt in ("mbox", "zip"):
        response = alice_client.get(reverse("data_export"), {"folder": inbox.pk, "format": fmt})
        assert response.status_code == 200
        exported = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        Message.objects.filter(folder=archive).delete()
        upload = SimpleUploadedFile(f"export.{fmt}", exported)
        response = alice_client.post(reverse("data_import"), {"folder": archive.pk, "file": upload})
        assert response.status_code == 302
        assert sorted(_raw_in(archive)) == sorted(MESSAGES), fmt


def test_a_zip_export_holds_one_eml_per_message(alice: User, alice_client: Client) -> None:
    inbox, _ = _folders(alice)
    for raw in MESSAGES:
        actions.append_message(folder=inbox, raw=raw)
    response = alice_client.get(reverse("data_export"), {"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert sorted(archive.read(n) for n in archive.namelist()) == sorted(MESSAGES)


def test_nobody_exports_or_imports_into_another_persons_folders(
    alice: User, bob: User, bob_client: Client
) -> None:
    inbox, _ = _folders(alice)
    actions.append_message(folder=inbox, raw=MESSAGES[0])
    assert bob_client.get(reverse("data_export"), {"folder": inbox.pk}).status_code == 404
    everything = bob_client.get(reverse("data_export"), {"format": "mbox"})
    assert b"".join(everything.streaming_content) == b""  # type: ignore[attr-defined]
    upload = SimpleUploadedFile("x.eml", MESSAGES[1])
    response = bob_client.post(reverse("data_import"), {"folder": inbox.pk, "file": upload})
    assert response.status_code == 200  # the form refuses a folder that is not bob's
    assert Message.objects.filter(folder=inbox).count() == 1


def test_a_file_that_is_no_mail_gets_a_clear_error(alice: User, alice_client: Client) -> None:
    inbox, _ = _folders(alice)
    upload = SimpleUploadedFile("x.bin", b"\x00\x01\x02 binary junk")
    response = alice_client.post(reverse("data_import"), {"folder": inbox.pk, "file": upload})
    assert "Upload an .eml file" in response.content.decode()
    assert not Message.objects.filter(folder=inbox).exists()
