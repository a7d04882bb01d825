"""The outgoing message's structure, encodings and threading headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from webmail.compose.builder import FilePart, OutgoingMessage, build_message
from webmail.compose.headers import Mailbox

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
CSV = "naïve,café\r\n1,2\n".encode()


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message(**fields: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "sender": Mailbox("Zoë Ærøskøbing", "zoe@example.org"),
        "to": [Mailbox("Jürgen Groß", "juergen@example.net")],
        "subject": "Grüße — 日本語 ✓", "html": "<p>Hello <b>world</b></p>",
        "date": datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    }
    values.update(fields)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def test_non_ascii_names_and_subject_are_rfc2047_encoded_and_read_back() -> None:
    built = build_message(message())
    head = built.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    parsed = parse(built.raw)
    assert parsed["Subject"] == "Grüße — 日本語 ✓"
    assert parsed["From"].addresses[0].display_name == "Zoë Ærøskøbing"
    assert parsed["To"].addresses[0].display_name == "Jürgen Groß"
    assert not built.smtputf8


def test_every_line_ends_in_crlf_and_fits_the_limit() -> None:
    raw = build_message(message(subject="word " * 150)).raw
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 998


def test_html_gets_a_plain_text_alternative_made_from_it() -> None:
    parsed = parse(build_message(message()).raw)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Hello world"
    assert html.get_content_type() == "text/html"


def test_a_plain_text_message_is_a_single_text_part() -> None:
    parsed = parse(build_message(message(html=None, text="Just text, ça va ?")).raw)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().strip() == "Just text, ça va ?"


def test_attachments_make_multipart_mixed_with_exact_bytes_and_names() -> None:
    parsed = parse(build_message(message(attachments=[
        FilePart("résumé.pdf", "application/pdf", PDF),
        FilePart("data.csv", "text/csv", CSV),
    ])).raw)
    assert parsed.get_content_type() == "multipart/mixed"
    body, pdf, csv = parsed.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert pdf.get_filename() == "résumé.pdf"
    assert pdf.get_payload(decode=True) == PDF
    assert csv.get_content_type() == "text/csv"
    assert csv.get_payload(decode=True) == CSV


def test_inline_images_sit_in_multipart_related_next_to_the_html() -> None:
    parsed = parse(build_message(message(
        html='<p>Logo <img src="cid:logo@x"></p>',
        attachments=[FilePart("logo.png", "image/png", b"\x89PNG...", content_id="logo@x",
                              inline=True)])).raw)
    assert parsed.get_content_type() == "multipart/alternative"
    related = list(parsed.iter_parts())[1]
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert image["Content-ID"] == "<logo@x>"


def test_forward_as_attachment_carries_the_original_as_message_rfc822() -> None:
    original = b"From: a@example.org\r\nSubject: Old\r\nMessage-ID: <old@x>\r\n\r\nBody\r\n"
    parsed = parse(build_message(message(attached_messages=[original])).raw)
    attached = list(parsed.iter_parts())[1]
    assert attached.get_content_type() == "message/rfc822"
    inner = attached.get_content()
    assert inner["Subject"] == "Old"
    assert inner["Message-ID"] == "<old@x>"


def test_replies_carry_in_reply_to_and_references_ending_with_the_parent() -> None:
    built = build_message(message(in_reply_to="<parent@x>", references=["<root@x>", "<mid@x>"],
                                  message_id="<mine@example.org>"))
    parsed = parse(built.raw)
    assert parsed["In-Reply-To"] == "<parent@x>"
    assert parsed["References"].split() == ["<root@x>", "<mid@x>", "<parent@x>"]
    assert parsed["Message-ID"] == "<mine@example.org>" == built.message_id


def test_bcc_is_in_the_envelope_only() -> None:
    built = build_message(message(cc=[Mailbox("", "c@example.net")],
                                  bcc=[Mailbox("Hidden", "h@example.net")]))
    assert built.recipients == ("juergen@example.net", "c@example.net", "h@example.net")
    assert b"h@example.net" not in built.raw
    assert b"Bcc" not in built.raw


def test_a_non_ascii_mailbox_switches_to_smtputf8() -> None:
    built = build_message(message(to=[Mailbox("", "josé@example.net")]))
    assert built.smtputf8
    assert "To: josé@example.net".encode() in built.raw


def test_a_message_has_a_date_and_a_message_id_in_the_senders_domain() -> None:
    parsed = parse(build_message(message(date=None)).raw)
    assert parsed["Date"].datetime is not None
    assert parsed["Message-ID"].endswith("@example.org>")
