"""Hand-built messages for the rules mail clients follow."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webmail.parsing.mime import Address, ParsedMessage, get_part, parse_message, safe_filename

HEAD = b"From: a@example.com\r\nTo: b@example.com\r\nMIME-Version: 1.0\r\n"


def _multipart(subtype: str, *parts: bytes, boundary: bytes = b"b") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        b'Content-Type: multipart/' + subtype.encode() + b'; boundary="' + boundary + b'"\r\n\r\n'
        + body + b"--" + boundary + b"--\r\n"
    )  # fmt: skip


PLAIN = b"Content-Type: text/plain; charset=utf-8\r\n\r\nplain body"
HTML = b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>html <b>body</b></p>"


def test_an_alternative_gives_both_bodies_and_the_snippet_from_plain() -> None:
    message = parse_message(HEAD + _multipart("alternative", PLAIN, HTML))
    assert message.text == "plain body"
    assert message.html == "<p>html <b>body</b></p>"
    assert message.snippet == "plain body"


def test_html_only_mail_gets_its_text_from_the_html() -> None:
    message = parse_message(HEAD + HTML)
    assert message.text == "html body"
    assert message.snippet == "html body"


def test_mixed_concatenates_inline_text_parts_and_lists_attachments() -> None:
    footer = b"Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\n-- list footer"
    pdf = (
        b'Content-Type: application/pdf; name="../../etc/passwd\x07.pdf"\r\n'
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg=="
    )
    raw = HEAD + _multipart(
        "mixed", _multipart("alternative", PLAIN, HTML, boundary=b"c"), pdf, footer
    )
    message = parse_message(raw)
    assert message.text == "plain body\n\n-- list footer"
    assert "<p>html <b>body</b></p>" in message.html
    assert "-- list footer" in message.html
    (attachment,) = message.attachments
    assert attachment.filename == "passwd.pdf"
    assert attachment.path == "2"
    assert attachment.size == 4
    assert get_part(raw, "2") == b"%PDF"
    assert "passwd.pdf" in message.search_text


def test_unsafe_filenames_are_cleaned_and_missing_ones_invented() -> None:
    assert safe_filename("C:\\Users\\x\\evil.exe", "application/octet-stream", 1) == "evil.exe"
    assert safe_filename("invoice\u202efdp.exe", "application/pdf", 1) == "invoicefdp.exe"
    assert safe_filename("...", "image/png", 3) == "attachment-3.png"
    assert safe_filename("", "message/rfc822", 2) == "attachment-2.eml"
    long_name = safe_filename("a" * 500 + ".pdf", "application/pdf", 1)
    assert len(long_name) <= 150
    assert long_name.endswith(".pdf")


def test_an_encoded_display_name_with_a_comma_stays_one_address() -> None:
    raw = b"From: =?utf-8?q?Doe=2C_J=C3=BCrgen?= <j@example.com>, b@example.com\r\n\r\nx"
    message = parse_message(raw)
    assert message.from_ == (Address("Doe, Jürgen", "j@example.com"), Address("", "b@example.com"))


def test_dates_are_aware_and_fall_back_to_the_internal_date() -> None:
    received = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    dated = parse_message(b"Date: Tue, 30 Apr 2024 10:00:00 +0200\r\n\r\nx", internal_date=received)
    assert dated.date == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
    undated = parse_message(b"Date: yesterday-ish\r\n\r\nx", internal_date=received)
    assert undated.date == received
    assert parse_message(b"\r\nx").date is None
    zoneless = parse_message(b"Date: Tue, 30 Apr 2024 10:00:00 -0000\r\n\r\nx").date
    assert zoneless is not None
    assert zoneless.tzinfo is not None


def test_message_ids_lose_their_angle_brackets() -> None:
    raw = (
        b"Message-ID: <c@x>\r\nIn-Reply-To: <b@x> (comment)\r\nReferences: <a@x>\r\n <b@x>\r\n\r\nx"
    )
    message = parse_message(raw)
    assert (message.message_id, message.in_reply_to, message.references) == (
        "c@x",
        "b@x",
        ("a@x", "b@x"),
    )


def test_a_part_that_cannot_be_decoded_becomes_an_attachment() -> None:
    broken = b"Content-Type: application/x-thing\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!"
    message = parse_message(HEAD + _multipart("mixed", PLAIN, broken))
    assert message.text == "plain body"
    assert [a.filename for a in message.attachments] == ["attachment-1.bin"]


def test_a_forwarded_message_is_parsed_inside_and_fetchable() -> None:
    inner = b"Subject: Inner\r\nFrom: c@example.com\r\n\r\ninner text"
    raw = HEAD + _multipart("mixed", PLAIN, b"Content-Type: message/rfc822\r\n\r\n" + inner)
    message = parse_message(raw)
    (forwarded,) = message.forwarded
    assert forwarded.subject == "Inner"
    assert forwarded.text == "inner text"
    assert message.attachments[0].filename == "Inner.eml"
    assert b"inner text" in get_part(raw, "2")
    assert get_part(raw, "2.1") == b"inner text"


def test_wrong_charsets_in_parts_are_guessed() -> None:
    part = b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    message = parse_message(HEAD + part + "naïve café".encode())
    assert message.text == "naïve café"


def _cpython_email_data() -> list[Path]:
    spec = importlib.util.find_spec("test")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "test_email" / "data"
    return sorted(data.glob("msg_*.txt")) if data.is_dir() else []


CPYTHON = _cpython_email_data()


@pytest.mark.skipif(not CPYTHON, reason="CPython's test package is not installed")
@pytest.mark.parametrize("path", CPYTHON, ids=lambda p: p.name)
def test_cpython_email_test_messages_parse(path: Path) -> None:
    raw = path.read_bytes()
    message = parse_message(raw)
    assert isinstance(message, ParsedMessage)
    assert "could not be read" not in " ".join(message.warnings)
    for attachment in message.attachments:
        assert len(get_part(raw, attachment.path)) == attachment.size
