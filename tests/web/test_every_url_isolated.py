"""Every URL of the project, walked from the URL configuration, with alice's ids.

As bob and as an anonymous visitor, each answers 404, 403, 405 or a login redirect,
never alice's data. A new view with an id in its path is covered without a new test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import User
from tests.conftest import make_account
from webmail.compose.models import Contact, Draft, DraftAttachment, Outbox
from webmail.mail import blobs
from webmail.mail.models import Attachment, Folder, Label, Message

ALICE_SECRET = "alice-only-subject-7Q"
RAW = (
    f"From: Carol <carol@example.test>\r\nSubject: {ALICE_SECRET}\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
    f"{ALICE_SECRET} body\r\n--b\r\nContent-Type: text/plain; name=secret.txt\r\n"
    "Content-Disposition: attachment; filename=secret.txt\r\n\r\nattached\r\n--b--\r\n"
).encode()
# Paths whose parameters are not ids of a person's objects.
PUBLIC = {"password_reset_confirm"}
OK_FOR_OTHERS = {302, 403, 404, 405}


def _routes(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif "<" in str(pattern.pattern):
            yield prefix + str(pattern.pattern), pattern.name or ""


def _alice_world(alice: User) -> dict[str, list[int]]:
    account = make_account(alice)
    folder = Folder.objects.create(account=account, name="INBOX", role="inbox",
                                   uidvalidity=1, total_count=1, unread_count=1)
    message = Message.objects.create(
        account=account, folder=folder, uidvalidity=1, uid=1, subject=ALICE_SECRET,
        from_address="carol@example.test", blob=blobs.put(RAW), size=len(RAW),
        body_state="full", date=timezone.now(),
    )
    attachment = Attachment.objects.create(message=message, part_path="2",
                                           filename="secret.txt", content_type="text/plain")
    draft = Draft.objects.create(owner=alice, account=account, subject=ALICE_SECRET,
                                 message_id="d@example.test")
    draft_attachment = DraftAttachment.objects.create(
        draft=draft, filename="secret.txt", content_type="text/plain", size=3,
        blob=blobs.put(b"abc"),
    )
    outbox = Outbox.objects.create(
        owner=alice, account=account, message_id="o@example.test", subject=ALICE_SECRET,
        envelope_from="alice@example.test", recipients=["x@example.test"],
        blob=blobs.put(RAW), next_attempt_at=timezone.now(),
    )
    label = Label.objects.create(owner=alice, name=ALICE_SECRET, keyword="secret")
    message.keywords = [label.keyword]
    message.save(update_fields=["keywords"])
    contact = Contact.objects.create(owner=alice, address="carol@example.test",
                                     name=ALICE_SECRET, saved=True)
    every = [account.pk, folder.pk, message.pk, attachment.pk, draft.pk, draft_attachment.pk,
             outbox.pk, label.pk, contact.pk]
    return {
        "account_id": [account.pk], "folder_id": [folder.pk], "message_id": [message.pk],
        "attachment_id": [attachment.pk, draft_attachment.pk], "draft_id": [draft.pk],
        "outbox_id": [outbox.pk], "label_id": [label.pk],
        "contact_id": [contact.pk], "*": every,
    }


def _urls(route: str, ids: dict[str, list[int]]) -> Iterator[str]:
    params = re.findall(r"<(?:(\w+):)?(\w+)>", route)
    names = [name for _, name in params]
    choices = [ids.get(name, ids["*"]) for name in names]
    # One URL per combination of id candidates (small: at most a few per parameter).
    combos: list[list[int | str]] = [[]]
    for (converter, _), options in zip(params, choices, strict=True):
        values: list[int | str] = list(options) if converter == "int" else ["x"]
        combos = [combo + [value] for combo in combos for value in values]
    for combo in combos:
        path = route
        for value in combo:
            path = re.sub(r"<(?:\w+:)?\w+>", str(value), path, count=1)
        yield "/" + path


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["bob", "anonymous"])
def test_no_url_shows_or_changes_another_persons_things(who: str, alice: User) -> None:
    ids = _alice_world(alice)
    client = Client()
    if who == "bob":
        client.force_login(User.objects.create_user("bob", password="bob pass phrase 1"))
    checked = 0
    for route, name in _routes(get_resolver().url_patterns):
        if name in PUBLIC or route.startswith("admin/"):
            continue
        for url in _urls(route, ids):
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert response.status_code in OK_FOR_OTHERS, (who, method, url,
                                                                response.status_code)
                if who == "anonymous" and response.status_code == 302:
                    assert "/login/" in response["Location"], (method, url)
                body = b"".join(response.streaming_content) if response.streaming else (
                    response.content)
                assert ALICE_SECRET.encode() not in body, (who, method, url)
                checked += 1
    assert checked > 40
    # Nothing of alice's was changed by the attempts.
    assert Message.objects.filter(subject=ALICE_SECRET, folder__role="inbox").count() == 1
    assert Draft.objects.filter(owner=alice).count() == 1
    assert Outbox.objects.filter(owner=alice).count() == 1
    assert Contact.objects.filter(owner=alice).count() == 1
    assert Label.objects.filter(owner=alice, name=ALICE_SECRET).count() == 1
    assert Message.objects.get(subject=ALICE_SECRET, folder__role="inbox").keywords == ["secret"]
