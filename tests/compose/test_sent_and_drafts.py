"""The whole path against Dovecot: Sent copies, threading, and drafts in IMAP Drafts."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from accounts.models import MailAccount
from tests.compose.conftest import wait_for, wait_for_state
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SMTPServer
from webmail.compose.drafts import new_draft, save_draft
from webmail.compose.models import Draft, DraftAttachment, OutboxState, SentCopyState
from webmail.compose.quoting import start_forward, start_reply
from webmail.compose.sending import send_draft
from webmail.mail import blobs
from webmail.mail.ingest import store_full_message
from webmail.mail.models import Folder, FolderRole, Message
from webmail.mail.threading import assign_thread_keys

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 16

ORIGINAL = (
    b"From: Bob Example <bob@example.net>\r\nTo: alice@example.org\r\n"
    b"Cc: carol@example.net\r\nSubject: Lunch?\r\n"
    b"Message-ID: <lunch@example.net>\r\nReferences: <root@example.net>\r\n"
    b"In-Reply-To: <root@example.net>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
    b"Shall we have lunch on Friday?\r\n"
)


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def attach(draft: Draft, name: str, content_type: str, data: bytes) -> None:
    DraftAttachment.objects.create(draft=draft, filename=name, content_type=content_type,
                                   size=len(data), blob=blobs.put(data))


def received(account: MailAccount, raw: bytes = ORIGINAL) -> Message:
    inbox = Folder.objects.get(account=account, role=FolderRole.INBOX)
    message = Message(account=account, folder=inbox)
    store_full_message(message, raw)
    assign_thread_keys(account.pk, [message.pk])
    message.refresh_from_db()
    return message


def test_a_rich_message_arrives_with_its_parts_and_bytes_and_lands_in_sent(
        imap_account: MailAccount, smtp: SMTPServer, running_dovecot: DovecotServer,
        celery_worker: object) -> None:
    draft = new_draft(owner=imap_account.owner, account=imap_account,
                      to='"Jürgen Groß" <juergen@example.net>, Zoë <zoe@example.net>',
                      subject="Grüße aus Köln — ✓", body_html="<p>Hallo <b>Welt</b></p>")
    attach(draft, "Bericht über 2026.pdf", "application/pdf", PDF)
    attach(draft, "bild.png", "image/png", PNG)
    row = wait_for_state(send_draft(draft).pk, OutboxState.SENT)

    (accepted,) = smtp.accepted
    parsed = parse(accepted.data)
    assert parsed["Subject"] == "Grüße aus Köln — ✓"
    assert [a.display_name for a in parsed["To"].addresses] == ["Jürgen Groß", "Zoë"]
    assert parsed.get_content_type() == "multipart/mixed"
    body, pdf, png = parsed.iter_parts()
    plain, html = body.iter_parts()
    assert plain.get_content().strip() == "Hallo Welt"
    assert "<b>Welt</b>" in html.get_content()
    assert (pdf.get_filename(), pdf.get_payload(decode=True)) == ("Bericht über 2026.pdf", PDF)
    assert (png.get_filename(), png.get_payload(decode=True)) == ("bild.png", PNG)

    wait_for(lambda: running_dovecot.messages("alice", "Sent"), what="the Sent copy")
    (copy,) = running_dovecot.messages("alice", "Sent")
    assert parse(copy)["Message-ID"] == row.message_id
    assert running_dovecot.flags("alice", "Sent") == [{"\\Seen"}]
    local = Message.objects.get(folder__role=FolderRole.SENT,
                                message_id=row.message_id.strip("<>"))
    assert local.is_seen
    assert wait_for_state(row.pk, OutboxState.SENT).sent_copy == SentCopyState.DONE
    assert not Draft.objects.filter(pk=draft.pk).exists()


def test_a_reply_carries_threading_headers_and_joins_the_conversation(
        imap_account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    original = received(imap_account)
    draft = start_reply(owner=imap_account.owner, message=original, kind="reply_all")
    assert draft.to == '"Bob Example" <bob@example.net>'
    assert draft.cc == "carol@example.net"
    assert draft.subject == "Re: Lunch?"
    assert "Shall we have lunch on Friday?" in draft.body_html
    row = wait_for_state(send_draft(draft).pk, OutboxState.SENT)
    parsed = parse(smtp.accepted[0].data)
    assert parsed["In-Reply-To"] == "<lunch@example.net>"
    assert parsed["References"].split() == ["<root@example.net>", "<lunch@example.net>"]
    sent = wait_for(lambda: Message.objects.filter(message_id=row.message_id.strip("<>"),
                                                   thread_key__gt="").first())
    assert sent.thread_key == original.thread_key


def test_gmail_accounts_get_no_second_copy_in_sent(
        imap_account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    from webmail.compose.models import Identity

    Identity.objects.create(account=imap_account, address="alice@example.org",
                            is_default=True, sent_copy="skip")
    draft = new_draft(owner=imap_account.owner, account=imap_account, to="bob@example.net",
                      subject="x", body_html="<p>x</p>")
    row = wait_for_state(send_draft(draft).pk, OutboxState.SENT)
    assert row.sent_copy == SentCopyState.SKIPPED
    assert not Message.objects.filter(message_id=row.message_id.strip("<>")).exists()


def test_forward_as_attachment_sends_the_original_bytes(
        imap_account: MailAccount, smtp: SMTPServer, celery_worker: object) -> None:
    draft = start_forward(owner=imap_account.owner, message=received(imap_account),
                          attached=True)
    save_draft(draft, to="dan@example.net", push=False)
    wait_for_state(send_draft(draft).pk, OutboxState.SENT)
    parsed = parse(smtp.accepted[0].data)
    assert parsed["Subject"] == "Fwd: Lunch?"
    inner = list(parsed.iter_parts())[1]
    assert inner.get_content_type() == "message/rfc822"
    assert inner.get_content()["Message-ID"] == "<lunch@example.net>"


def test_drafts_are_in_imap_drafts_and_each_save_replaces_the_previous_copy(
        imap_account: MailAccount, running_dovecot: DovecotServer,
        celery_worker: object) -> None:
    draft = new_draft(owner=imap_account.owner, account=imap_account)
    save_draft(draft, to="bob@example.net", subject="First version", body_html="<p>one</p>")
    wait_for(lambda: Draft.objects.get(pk=draft.pk).remote_version == 1)
    save_draft(draft, subject="Second version", body_html="<p>two</p>")
    wait_for(lambda: Draft.objects.get(pk=draft.pk).remote_version == 2)
    copies = running_dovecot.messages("alice", "Drafts")
    assert [parse(c)["Subject"] for c in copies] == ["Second version"]
    assert running_dovecot.flags("alice", "Drafts") == [{"\\Draft", "\\Seen"}]
    assert parse(copies[0])["Message-ID"] == draft.message_id


def test_a_sent_draft_leaves_imap_drafts(
        imap_account: MailAccount, smtp: SMTPServer, running_dovecot: DovecotServer,
        celery_worker: object) -> None:
    draft = new_draft(owner=imap_account.owner, account=imap_account)
    save_draft(draft, to="bob@example.net", subject="Soon sent", body_html="<p>x</p>")
    wait_for(lambda: Draft.objects.get(pk=draft.pk).remote_version == 1)
    assert len(running_dovecot.messages("alice", "Drafts")) == 1
    wait_for_state(send_draft(Draft.objects.get(pk=draft.pk)).pk, OutboxState.SENT)
    wait_for(lambda: not running_dovecot.messages("alice", "Drafts"), what="draft removal")


def test_autosaves_close_together_share_one_push_to_imap(
        imap_account: MailAccount, running_dovecot: DovecotServer, celery_worker: object,
        settings: object) -> None:
    settings.WEBMAIL_DRAFT_PUSH_DELAY_SECONDS = 1  # type: ignore[attr-defined]
    draft = new_draft(owner=imap_account.owner, account=imap_account)
    for n in range(1, 4):
        save_draft(draft, subject=f"Version {n}", body_html=f"<p>{n}</p>")
    wait_for(lambda: Draft.objects.get(pk=draft.pk).remote_version == 3)
    (copy,) = running_dovecot.messages("alice", "Drafts")
    assert parse(copy)["Subject"] == "Version 3"
    # One APPEND: the copy is the folder's first message ever.
    assert Draft.objects.get(pk=draft.pk).remote_uid == 1
