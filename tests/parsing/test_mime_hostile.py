"""Adversarial input: every case must parse, without raising, in well under a second."""

from __future__ import annotations

import random
import time

from webmail.parsing.mime import MAX_PARTS, ParsedMessage, get_part, parse_message

HEAD = b"From: a@example.com\r\nTo: b@example.com\r\nMIME-Version: 1.0\r\n"


def _timed(raw: bytes) -> tuple[ParsedMessage, float]:
    started = time.perf_counter()
    message = parse_message(raw)
    return message, time.perf_counter() - started


def _nested_multiparts(depth: int) -> bytes:
    out = [HEAD, b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n']
    for level in range(1, depth):
        out.append(
            b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (level - 1, level)
        )
    out.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n" % (depth - 1))
    out.extend(b"--b%d--\r\n" % level for level in range(depth - 1, -1, -1))
    return b"".join(out)


def test_a_content_type_with_16000_semicolons_parses_quickly() -> None:
    raw = HEAD + b"Content-Type: text/plain" + b";" * 16_000 + b"\r\n\r\nbody\r\n"
    message, elapsed = _timed(raw)
    assert elapsed < 0.5
    assert message.text == "body"


def test_a_subject_with_16000_encoded_words_parses_quickly() -> None:
    raw = HEAD + b"Subject: " + b"=?utf-8?q?a?= " * 16_000 + b"\r\n\r\nbody\r\n"
    message, elapsed = _timed(raw)
    assert elapsed < 0.5
    assert message.subject.startswith("aaaa")
    assert any("Subject" in warning for warning in message.warnings)


def test_a_from_with_5000_nested_comments_parses_quickly() -> None:
    raw = (
        b"From: " + b"(" * 5_000 + b"x" + b")" * 5_000 + b" <evil@example.com>\r\n"
        b"Subject: comments\r\n\r\nbody\r\n"
    )
    message, elapsed = _timed(raw)
    assert elapsed < 0.5
    assert message.subject == "comments"


def test_1000_nested_multiparts_parse_quickly_with_a_warning() -> None:
    message, elapsed = _timed(_nested_multiparts(1_000))
    assert elapsed < 1.0
    assert message.warnings


def test_moderate_nesting_still_shows_the_innermost_text() -> None:
    message = parse_message(_nested_multiparts(15))
    assert message.text == "deepest"


def test_1000_nested_forwarded_messages_parse_quickly() -> None:
    raw = (HEAD + b"Content-Type: message/rfc822\r\n\r\n") * 1_000 + b"\r\ninner\r\n"
    message, elapsed = _timed(raw)
    assert elapsed < 1.0
    assert isinstance(message, ParsedMessage)


def test_more_parts_than_the_limit_are_cut_with_a_warning() -> None:
    parts = b"".join(
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" for _ in range(MAX_PARTS + 50)
    )
    raw = HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    message, elapsed = _timed(raw)
    assert elapsed < 1.0
    assert len(message.attachments) < MAX_PARTS
    assert any(str(MAX_PARTS) in warning for warning in message.warnings)


def test_random_bytes_never_raise() -> None:
    rng = random.Random(5)
    for _ in range(200):
        size = rng.randint(0, 3_000)
        raw = bytes(rng.getrandbits(8) for _ in range(size))
        assert isinstance(parse_message(raw), ParsedMessage)


def test_mutated_mime_never_raises() -> None:
    seed = (
        HEAD
        + b'Subject: =?utf-8?b?SGVsbG8=?=\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b'--b\r\nContent-Type: text/html; charset="x-weird"\r\n\r\n<p>hi</p>\r\n'
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner\r\n"
        b"--b\r\nContent-Type: image/png; name*=utf-8''%E2%9C%94.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
    )
    rng = random.Random(7)
    tokens = [b"--b", b"\r\n", b";", b"=?", b"?=", b"\xff", b"(", b'"', b"boundary=", b":"]
    for _ in range(300):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position:position] = rng.choice(tokens)
        raw = bytes(data)
        message = parse_message(raw)
        assert isinstance(message, ParsedMessage)
        for attachment in message.attachments:
            get_part(raw, attachment.path)


def test_empty_input_and_headers_only_give_a_usable_message() -> None:
    assert parse_message(b"").subject == ""
    assert parse_message(b"Subject: only\r\n").subject == "only"


def test_get_part_with_a_bad_path_is_empty() -> None:
    raw = HEAD + b"\r\nbody\r\n"
    assert get_part(raw, "1") == b"body\r\n"
    assert get_part(raw, "7.3") == b""
    assert get_part(raw, "x") == b""
