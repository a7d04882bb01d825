"""The compose pages as a person uses them, and nobody else's objects reachable."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import MailAccount, User
from tests.conftest import make_account
from webmail.compose.contacts import harvest_contacts
from webmail.compose.drafts import new_draft
from webmail.compose.models import Draft, DraftAttachment, Identity, Outbox, OutboxState
from webmail.compose.outbox import claim, enter_transaction, recover_stale
from webmail.compose.sending import send_draft
from webmail.mail import blobs
from webmail.mail.ingest import store_full_message
from webmail.mail.models import Folder, FolderRole, Message


@pytest.fixture(autouse=True)
def _no_queue(settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests look at pages and rows; no worker runs, so nothing is handed to one.
    monkeypatch.setattr("webmail.compose.outbox._enqueue", lambda *a: None)
    monkeypatch.setattr("webmail.compose.drafts._queue_push", lambda *a: None)


@pytest.fixture
def account(alice: User) -> MailAccount:
    return make_account(alice, email="alice@example.org", smtp_host="127.0.0.1",
                        protocol="pop3")


def draft_of(account: MailAccount, **fields: object) -> Draft:
    return new_draft(owner=account.owner, account=account, **fields)


def form_data(**fields: str) -> dict[str, str]:
    data = {"to": "bob@example.net", "cc": "", "bcc": "", "subject": "Hello",
            "body_html": "<div>Hi <strong>Bob</strong></div>", "body_text": ""}
    data.update(fields)
    return data


def test_compose_makes_a_draft_and_shows_the_editor_without_inline_script(
        alice_client: Client, account: MailAccount) -> None:
    response = alice_client.get("/compose/")
    assert response.status_code == 302
    page = alice_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<trix-editor" in html
    assert "vendor/trix/trix.umd.min.js" in html
    # Only external scripts, and JSON data blocks (the identities' signatures), which never run.
    assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers
    assert Draft.objects.filter(owner=account.owner).count() == 1


def test_autosave_keeps_what_was_typed_and_reopens_it(
        alice_client: Client, account: MailAccount) -> None:
    draft = draft_of(account)
    response = alice_client.post(f"/compose/draft/{draft.pk}/save/",
                                 form_data(subject="Half written", to="bo"))
    assert response.json()["saved"] is True
    page = alice_client.get(f"/compose/draft/{draft.pk}/").content.decode()
    assert 'value="Half written"' in page
    assert 'value="bo"' in page
    assert Draft.objects.get(pk=draft.pk).version == 1


def test_saved_html_is_sanitized(alice_client: Client, account: MailAccount) -> None:
    draft = draft_of(account)
    alice_client.post(f"/compose/draft/{draft.pk}/save/", form_data(
        body_html='<p onclick="x()">Hi<script>alert(1)</script></p>'))
    saved = Draft.objects.get(pk=draft.pk).body_html
    assert "script" not in saved and "onclick" not in saved
    assert "Hi" in saved


def test_send_queues_the_message_and_shows_it_in_the_outbox(
        alice_client: Client, account: MailAccount) -> None:
    draft = draft_of(account)
    response = alice_client.post(f"/compose/draft/{draft.pk}/send/", form_data())
    assert response.status_code == 302
    row = Outbox.objects.get(draft=draft)
    assert row.state == OutboxState.QUEUED
    assert row.undo_until is not None
    outbox = alice_client.get("/compose/outbox/").content.decode()
    assert "Hello" in outbox and "Undo" in outbox
    assert alice_client.get(f"/compose/draft/{draft.pk}/").status_code == 404  # in outbox


def test_undo_from_the_outbox_brings_the_draft_back(
        alice_client: Client, account: MailAccount) -> None:
    draft = draft_of(account)
    alice_client.post(f"/compose/draft/{draft.pk}/send/", form_data())
    row = Outbox.objects.get(draft=draft)
    response = alice_client.post(f"/compose/outbox/{row.pk}/undo/")
    assert response["Location"] == f"/compose/draft/{draft.pk}/"
    assert Outbox.objects.get(pk=row.pk).state == OutboxState.CANCELLED
    assert alice_client.get(f"/compose/draft/{draft.pk}/").status_code == 200


@pytest.mark.parametrize("field,value", [
    ("subject", "Hi\r\nBcc: victim@example.org"),
    ("subject", "Hi\u2028Bcc: victim@example.org"),
    ("to", "bob@example.net\r\nBcc: victim@example.org"),
    ("to", '"Bob\nBcc: victim@example.org" <bob@example.net>'),
    ("cc", "carol@example.net\x85Bcc: victim@example.org"),
    ("to", "not an address"),
])
def test_send_refuses_fields_that_could_inject_headers(
        alice_client: Client, account: MailAccount, field: str, value: str) -> None:
    draft = draft_of(account)
    response = alice_client.post(f"/compose/draft/{draft.pk}/send/", form_data(**{field: value}))
    assert response.status_code == 400
    assert not Outbox.objects.exists()


def test_send_later_waits_for_its_time(alice_client: Client, account: MailAccount) -> None:
    draft = draft_of(account)
    later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    alice_client.post(f"/compose/draft/{draft.pk}/send/", form_data(send_at=later))
    row = Outbox.objects.get(draft=draft)
    assert row.scheduled_at is not None
    assert row.next_attempt_at >= timezone.now() + timedelta(hours=23)


def test_uploads_over_the_limit_are_refused_on_the_server(
        alice_client: Client, account: MailAccount, settings: object) -> None:
    settings.WEBMAIL_MAX_ATTACHMENT_BYTES = 1000  # type: ignore[attr-defined]
    draft = draft_of(account)
    ok = alice_client.post(f"/compose/draft/{draft.pk}/attachments/",
                           {"files": [SimpleUploadedFile("a.txt", b"x" * 600)]})
    assert ok.status_code == 200 and "a.txt" in ok.content.decode()
    too_big = alice_client.post(f"/compose/draft/{draft.pk}/attachments/",
                                {"files": [SimpleUploadedFile("b.txt", b"y" * 600)]})
    assert too_big.status_code == 413
    assert "past the" in too_big.content.decode()
    assert [a.filename for a in DraftAttachment.objects.filter(draft=draft)] == ["a.txt"]


def test_the_editor_page_tells_the_browser_the_limit(
        alice_client: Client, account: MailAccount, settings: object) -> None:
    settings.WEBMAIL_MAX_ATTACHMENT_BYTES = 1234  # type: ignore[attr-defined]
    page = alice_client.get(f"/compose/draft/{draft_of(account).pk}/").content.decode()
    assert 'data-max-bytes="1234"' in page


def test_autocomplete_ranks_harvested_contacts_by_use(
        alice_client: Client, account: MailAccount, bob: User) -> None:
    harvest_contacts(owner=account.owner, people=[("Bob One", "bob1@example.net")])
    for _ in range(3):
        harvest_contacts(owner=account.owner, people=[("Bob Two", "bob2@example.net")])
    harvest_contacts(owner=bob, people=[("Bob Secret", "bobs@example.net")])
    results = alice_client.get("/compose/contacts/?q=bob").json()["results"]
    assert [r["address"] for r in results] == ["bob2@example.net", "bob1@example.net"]


def test_the_outbox_shows_failures_and_uncertain_rows_with_their_choices(
        alice_client: Client, account: MailAccount, settings: object) -> None:
    settings.WEBMAIL_UNDO_SECONDS = 0  # type: ignore[attr-defined]
    draft = draft_of(account, to="bob@example.net", subject="Stuck")
    row = send_draft(draft)
    token = claim(row.pk)
    assert token and enter_transaction(row.pk, token)
    settings.WEBMAIL_SEND_STALE_SECONDS = -1  # type: ignore[attr-defined]
    assert recover_stale() == (0, 1)
    page = alice_client.get("/compose/outbox/").content.decode()
    assert "Send again" in page and "It was sent" in page
    alice_client.post(f"/compose/outbox/{row.pk}/resolve/", {"action": "mark_sent"})
    assert Outbox.objects.get(pk=row.pk).state == OutboxState.SENT


def test_reply_starts_a_draft_answering_the_message(
        alice_client: Client, account: MailAccount) -> None:
    inbox = Folder.objects.create(account=account, name="INBOX", role=FolderRole.INBOX)
    message = Message(account=account, folder=inbox)
    store_full_message(message, b"From: Bob <bob@example.net>\r\nSubject: Plan\r\n"
                                b"Message-ID: <plan@x>\r\n\r\nThe plan.\r\n")
    response = alice_client.post(f"/compose/reply/{message.pk}/", {"kind": "reply"})
    draft = Draft.objects.get(source=message)
    assert response["Location"] == f"/compose/draft/{draft.pk}/"
    assert (draft.subject, draft.in_reply_to) == ("Re: Plan", "plan@x")


# -- nobody else's objects -----------------------------------------------------------------
def _alices_objects(account: MailAccount) -> dict[str, int]:
    draft = draft_of(account, to="bob@example.net")
    attachment = DraftAttachment.objects.create(draft=draft, filename="a", content_type="x/y",
                                                size=1, blob=blobs.put(b"a"))
    queued = draft_of(account, to="bob@example.net")
    row = send_draft(queued)
    inbox = Folder.objects.create(account=account, name="INBOX", role=FolderRole.INBOX)
    message = Message(account=account, folder=inbox)
    store_full_message(message, b"Subject: x\r\nMessage-ID: <x@y>\r\n\r\nx\r\n")
    identity = Identity.objects.create(account=account, address="alice@example.org")
    return {"draft": draft.pk, "attachment": attachment.pk, "outbox": row.pk,
            "message": message.pk, "identity": identity.pk}


ID_URLS = [
    ("get", "/compose/draft/{draft}/"),
    ("post", "/compose/draft/{draft}/save/"),
    ("post", "/compose/draft/{draft}/send/"),
    ("post", "/compose/draft/{draft}/discard/"),
    ("post", "/compose/draft/{draft}/attachments/"),
    ("post", "/compose/draft/{draft}/attachments/{attachment}/delete/"),
    ("post", "/compose/outbox/{outbox}/undo/"),
    ("post", "/compose/outbox/{outbox}/resolve/"),
    ("post", "/compose/reply/{message}/"),
    ("get", "/compose/identities/{identity}/"),
    ("post", "/compose/identities/{identity}/"),
]


@pytest.mark.parametrize("method,url", ID_URLS)
def test_bob_gets_404_for_every_url_with_alices_ids(
        bob_client: Client, account: MailAccount, method: str, url: str) -> None:
    ids = _alices_objects(account)
    response = getattr(bob_client, method)(url.format(**ids), form_data() | {
        "action": "resend", "kind": "reply"})
    assert response.status_code == 404
    assert Draft.objects.filter(pk=ids["draft"]).exists()
    assert Outbox.objects.get(pk=ids["outbox"]).state == OutboxState.QUEUED
    assert DraftAttachment.objects.filter(pk=ids["attachment"]).exists()


def test_pages_need_a_login(client: Client, db: None) -> None:
    for url in ("/compose/", "/compose/outbox/", "/compose/drafts/", "/compose/contacts/"):
        assert client.get(url).status_code == 302


def test_identities_get_a_signature_that_new_messages_start_with(
        alice_client: Client, account: MailAccount) -> None:
    response = alice_client.post("/compose/identities/", {
        "account": account.pk, "name": "Alice Work", "address": "alice@work.example",
        "signature_text": "Alice, at work", "signature_html": "<p>Alice, <i>at work</i></p>",
        "is_default": "on", "sent_copy": "auto"})
    assert response.status_code == 302
    draft_url = alice_client.get("/compose/")["Location"]
    draft = Draft.objects.get(pk=int(draft_url.rstrip("/").rsplit("/", 1)[1]))
    assert draft.identity is not None and draft.identity.address == "alice@work.example"
    assert "<i>at work</i>" in draft.body_html


def test_an_identity_with_a_line_break_in_its_name_is_refused(
        alice_client: Client, account: MailAccount) -> None:
    response = alice_client.post("/compose/identities/", {
        "account": account.pk, "name": "Alice\r\nBcc: x@example.org",
        "address": "alice@work.example", "sent_copy": "auto"})
    assert response.status_code == 400
    assert not Identity.objects.filter(address="alice@work.example").exists()


def test_bob_cannot_add_an_identity_to_alices_account(
        bob_client: Client, account: MailAccount) -> None:
    response = bob_client.post("/compose/identities/", {
        "account": account.pk, "name": "Bob", "address": "bob@evil.example",
        "sent_copy": "auto"})
    assert response.status_code == 400
    assert not Identity.objects.filter(address="bob@evil.example").exists()
