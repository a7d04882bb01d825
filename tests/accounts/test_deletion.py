from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts import actions
from accounts.models import MailAccount, User
from tests.conftest import make_account, make_user
from webmail.mail import blobs
from webmail.mail.models import Blob, Folder, Message

SHARED = b"From: news@example.test\r\nSubject: same newsletter\r\n\r\nHello all\r\n"
ALICE_ONLY = b"From: friend@example.test\r\nSubject: for alice\r\n\r\nPrivate\r\n"


def _store(owner: User, raws: list[bytes]) -> MailAccount:
    account = make_account(owner, protocol="pop3")
    folder = Folder.objects.create(account=account, name="INBOX", role="inbox", local_only=True)
    for raw in raws:
        Message.objects.create(account=account, folder=folder, blob=blobs.put(raw),
                               size=len(raw), body_state="full")
    return account


def test_deleting_a_user_leaves_no_row_or_blob_of_theirs(alice: User, bob: User) -> None:
    _store(alice, [SHARED, ALICE_ONLY])
    _store(bob, [SHARED])

    actions.delete_user(user=alice)

    assert not User.objects.filter(username="alice").exists()
    assert not MailAccount.objects.filter(owner__username="alice").exists()
    assert not Message.objects.exclude(account__owner=bob).exists()
    assert not Blob.objects.filter(pk=blobs.digest(ALICE_ONLY)).exists()
    # The newsletter bob also has stays, file included.
    assert blobs.get(blobs.digest(SHARED)) == SHARED


def test_the_admin_deleting_a_user_removes_their_blobs(alice: User) -> None:
    _store(alice, [ALICE_ONLY])
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_user_delete", args=[alice.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Blob.objects.exists()


def test_removing_a_mail_account_removes_its_blobs(alice: User, alice_client: Client) -> None:
    account = _store(alice, [ALICE_ONLY])
    alice_client.post(reverse("account_delete", args=[account.pk]))
    assert not Message.objects.exists()
    assert not Blob.objects.exists()
