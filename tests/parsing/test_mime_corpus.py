from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.parsing.corpus import corpus_files, corpus_root, manifest, read
from webmail.parsing.mime import ParsedMessage, get_part, parse_message

FILES = corpus_files()


def _ids(path: Path) -> str:
    return str(path.relative_to(corpus_root() / "mime"))


def _all_attachments(message: ParsedMessage) -> list[tuple[str, int]]:
    found = [(a.path, a.size) for a in message.attachments]
    for nested in message.forwarded:
        found += _all_attachments(nested)
    return found


@pytest.mark.skipif(not FILES, reason="shared corpus not available")
@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_every_corpus_message_parses_quickly_and_its_parts_can_be_fetched_again(
    path: Path,
) -> None:
    raw = path.read_bytes()
    started = time.perf_counter()
    message = parse_message(raw)
    elapsed = time.perf_counter() - started
    assert isinstance(message, ParsedMessage)
    assert elapsed < 2.0
    assert len(message.snippet) <= 200
    for part_path, size in _all_attachments(message):
        assert len(get_part(raw, part_path)) == size


@pytest.mark.skipif(not FILES, reason="shared corpus not available")
def test_corpus_files_are_byte_exact_copies() -> None:
    rows = manifest()
    for path in FILES:
        row = rows.get(f"mime/{_ids(path)}")
        if row is not None:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], path


def test_an_encoded_utf8_subject_and_attachment_names_are_decoded() -> None:
    message = parse_message(read("django-mailbox/message_with_utf8_attachment.eml"))
    assert message.subject == "Odpowiedź od burmistrza na wniosek stowarzyszenia"
    assert [a.filename for a in message.attachments] == [
        "piłkochwyty.jpg",
        "odpowiedź Burmistrza.jpg",
    ]


def test_a_gb2312_subject_and_html_body_are_decoded() -> None:
    message = parse_message(read("spamscope/mail_test_9.eml"))
    assert message.subject.startswith("我把镜头拉近些")
    assert message.html
    assert message.text  # derived from the HTML for the snippet and search


def test_raw_eight_bit_gb2312_headers_are_decoded_with_the_message_charset() -> None:
    message = parse_message(read("spamscope/mail_test_12.eml"))
    assert message.subject == "代开各地增值税发票"


def test_ks_c_5601_1987_is_read_as_cp949() -> None:
    message = parse_message(read("ruby-mail/ks_c_5601-1987.eml"))
    assert "\ufffd" not in message.text
    assert any("\uac00" <= ch <= "\ud7a3" for ch in message.text)


def test_an_unknown_charset_falls_back_without_replacement_characters() -> None:
    message = parse_message(read("ruby-mail/raw_email10_x_unknown_charset.eml"))
    assert message.text
    for name in (
        "django-mailbox/message_with_invalid_encoding.eml",
        "zbateson-mail-mime-parser/invalid-charset.eml",
        "php-mime-mail-parser/issue230.eml",
    ):
        assert parse_message(read(name)).text


def test_mac_cyrillic_text_is_decoded() -> None:
    message = parse_message(read("php-mime-mail-parser/issue230.eml"))
    assert any("\u0400" <= ch <= "\u04ff" for ch in message.text)


def test_iso_2022_jp_encoded_words_keep_their_cyrillic_and_digits() -> None:
    message = parse_message(read("php-mime-mail-parser/issue116.eml"))
    assert message.subject.startswith("ЖД")
    assert message.subject.endswith("от 28.09.2016")


def test_html_is_chosen_over_plain_text_in_an_alternative_inside_mixed() -> None:
    message = parse_message(read("spamscope/mail_test_3.eml"))
    assert message.html
    assert message.text
    assert "<" not in message.snippet


def test_multipart_related_keeps_its_images_as_inline_parts_by_content_id() -> None:
    message = parse_message(read("k-9/inline_image_attachment.eml"))
    assert "cid:" in message.html
    image = message.attachments[0]
    assert image.disposition == "inline"
    assert image.content_id
    assert message.part_for_content_id(f"<{image.content_id}>") == image


def test_a_related_root_is_found_by_its_type_when_it_is_not_first() -> None:
    message = parse_message(read("mimekit/multipart-related-mhtml.eml"))
    assert message.html
    assert [a.content_type for a in message.attachments] == ["image/png"]


def test_an_outlook_meeting_request_is_summarised_as_an_event() -> None:
    message = parse_message(read("php-mime-mail-parser/m0020-outlook-meeting.eml"))
    (event,) = message.events
    assert event.method == "REQUEST"
    assert event.location == "Meeting Room"
    assert event.organizer.endswith("<newsletter@finntack.com>")


def test_a_google_invitation_has_an_aware_start_time() -> None:
    message = parse_message(read("postal-mime/calendar-event.eml"))
    event = message.events[0]
    assert event.summary == "Test event ⏰"
    assert isinstance(event.start, datetime)
    assert event.start.tzinfo is not None
    assert event.start.astimezone(UTC).hour == 8


def test_a_bounce_is_summarised_with_recipient_status_and_diagnostic() -> None:
    message = parse_message(read("postal-mime/bounce.eml"))
    (report,) = message.reports
    (recipient,) = report.recipients
    assert recipient.action == "failed"
    assert recipient.status == "5.0.0"
    assert recipient.final_recipient == "htfgvhyufthdgcvhgjyfthgc@ethereal.email"
    assert "No such user" in recipient.diagnostic
    assert message.forwarded  # the returned message is readable too


def test_a_read_receipt_and_an_abuse_report_are_summarised() -> None:
    receipt = parse_message(read("flanker/disposition-notification.eml"))
    assert receipt.reports[0].summary.startswith("Read receipt")
    abuse = parse_message(read("postal-mime/arf.eml"))
    assert abuse.reports[0].feedback_type == "abuse"


def test_a_signed_message_shows_its_content_and_lists_the_signature() -> None:
    message = parse_message(read("ruby-mail/sig_only_email.eml"))
    assert message.text
    assert [a.content_type for a in message.attachments] == ["application/pgp-signature"]


def test_forwarded_messages_are_parsed_inside_and_numbered_like_imap() -> None:
    raw = read("mimekit/rfc2060.eml")
    message = parse_message(raw)
    paths = {a.path for a in message.attachments}
    assert {"2", "3", "4.1", "4.2"} <= paths
    assert len(message.forwarded) == 2
    inner_paths = {a.path for nested in message.forwarded for a in nested.attachments}
    assert "3.2" in inner_paths or "4.2.2.1" in inner_paths


def test_rfc2231_and_encoded_filenames_are_decoded() -> None:
    message = parse_message(read("ruby-mail/japanese_attachment_long_name.eml"))
    assert message.attachments[0].filename.startswith("かきくけこ")
    nonascii = parse_message(read("ruby-mail/attachment_nonascii_filename.eml"))
    assert nonascii.attachments[0].filename == "ciële.txt"


def test_an_overlong_header_is_cut_with_a_warning() -> None:
    message = parse_message(read("flanker/long-header.eml"))
    assert any("too long" in warning for warning in message.warnings)


def test_an_outlook_msg_file_is_not_mail_but_does_not_break_parsing() -> None:
    message = parse_message(read("spamscope/mail_outlook_1.msg"))
    assert isinstance(message, ParsedMessage)


def test_a_huge_html_body_is_cut_for_display_with_a_warning() -> None:
    message = parse_message(read("nodemailer-mailparser/outofmemory.eml"))
    assert any("very long" in warning for warning in message.warnings)
