"""The FETCH response reader under the sync's streaming fetch: bytes in, imapclient-shaped
fields out (no server: the cases are the shapes Dovecot and other servers send)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from webmail.protocols.imap_wire import internaldate, parse_fetch_items, read_response


class Wire:
    """Just what read_response uses of imaplib.IMAP4: readline() and read(n)."""

    def __init__(self, data: bytes) -> None:
        self.file = io.BytesIO(data)

    def readline(self) -> bytes:
        return self.file.readline()

    def read(self, size: int) -> bytes:
        return self.file.read(size)


def fields_of(wire: bytes) -> dict[bytes, Any]:
    text, literals = read_response(Wire(wire))
    start = text.index(b"FETCH (") + len(b"FETCH (")
    return parse_fetch_items(text, start, literals)


HEADER = b"Subject: =?utf-8?q?caf=C3=A9?=\r\nFrom: a@b.test\r\n\r\n"


def test_a_header_fetch_with_a_literal_reads_like_imapclient() -> None:
    wire = (b"* 3 FETCH (UID 17 FLAGS (\\Seen $Label1) RFC822.SIZE 3056 "
            b'INTERNALDATE "07-Mar-2024 10:01:02 +0100" MODSEQ (12345) '
            b"BODY[HEADER.FIELDS (FROM TO SUBJECT)] {%d}\r\n" % len(HEADER) + HEADER + b")\r\n")
    ours = fields_of(wire)
    # as imaplib files it under FETCH: "3 (UID ... {n}", then the literal
    head = b"3 " + wire.split(b"\r\n")[0].split(b" FETCH ")[1]
    theirs = parse_fetch_response([(head, HEADER), b")"], False, True)[17]
    assert ours[b"UID"] == 17
    assert ours[b"FLAGS"] == theirs[b"FLAGS"] == (b"\\Seen", b"$Label1")
    assert ours[b"RFC822.SIZE"] == theirs[b"RFC822.SIZE"] == 3056
    assert ours[b"MODSEQ"] == theirs[b"MODSEQ"] == (12345,)
    assert ours[b"INTERNALDATE"] == theirs[b"INTERNALDATE"] == datetime(
        2024, 3, 7, 9, 1, 2, tzinfo=UTC)
    assert ours[b"BODY[HEADER.FIELDS (FROM TO SUBJECT)]"] == HEADER


def test_items_in_any_order_quoted_and_nil_values_and_partial_sections() -> None:
    assert fields_of(b'* 1 FETCH (BODY[HEADER] "" UID 5 FLAGS ())\r\n') == {
        b"BODY[HEADER]": b"", b"UID": 5, b"FLAGS": ()}
    assert fields_of(b"* 1 FETCH (UID 6 BODY[] NIL)\r\n") == {b"UID": 6, b"BODY[]": None}
    assert fields_of(b'* 1 FETCH (UID 7 BODY[]<0> {3}\r\nabc)\r\n') == {
        b"UID": 7, b"BODY[]<0>": b"abc"}
    assert fields_of(b'* 1 FETCH (UID 8 X-GM-LABELS ("a (b)" \\Inbox))\r\n') == {
        b"UID": 8, b"X-GM-LABELS": b'"a (b)" \\Inbox'}


def test_two_literals_in_one_response_and_a_literal_holding_parentheses() -> None:
    body = b"(not) a ) paren\r\n"
    wire = (b"* 2 FETCH (UID 9 BODY[1] {%d}\r\n" % len(body) + body
            + b" BODY[2] {2}\r\nok)\r\n")
    assert fields_of(wire) == {b"UID": 9, b"BODY[1]": body, b"BODY[2]": b"ok"}


@pytest.mark.parametrize(("value", "expected"), [
    (b"07-Mar-2024 10:01:02 +0100", datetime(2024, 3, 7, 9, 1, 2, tzinfo=UTC)),
    (b" 7-Mar-2024 23:30:00 -0230", datetime(2024, 3, 8, 2, 0, 0, tzinfo=UTC)),
    (b"31-Feb-2024 10:00:00 +0000", None),
    (b"garbage", None),
    (None, None),
])
def test_internaldate(value: bytes | None, expected: datetime | None) -> None:
    assert internaldate(value) == expected


def test_a_line_cut_short_is_a_lost_connection() -> None:
    import imaplib

    with pytest.raises(imaplib.IMAP4.abort):
        read_response(Wire(b"* 1 FETCH (UID 1 BODY[] {10}\r\nabc"))
    with pytest.raises(imaplib.IMAP4.abort):
        read_response(Wire(b""))
