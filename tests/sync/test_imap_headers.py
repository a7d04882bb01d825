"""The headers phase's lean envelope parse gives what the full parser gives.

Pure: the benchmark's generated mailbox (legacy charsets, RFC 2047 names, threads) and
hand-written hostile headers, cut down to the fields the sync fetches, against
parse_message on the whole message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.generator import generate_mailbox
from webmail.mail.ingest import envelope_fields
from webmail.parsing.mime import parse_message
from webmail.sync.imap_headers import ENVELOPE_HEADERS, header_items, parse_envelope

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def envelope_block(raw: bytes) -> bytes:
    """What BODY.PEEK[HEADER.FIELDS (...)] returns: the wanted fields, a blank line."""
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    wanted = {name.lower() for name in ENVELOPE_HEADERS}
    kept: list[bytes] = []
    keep = False
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower().decode("latin-1") in wanted
        if keep:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n\r\n"


def test_generated_mail_gives_the_same_envelope_as_the_full_parser() -> None:
    for raw in generate_mailbox(400, seed=7):
        full = envelope_fields(parse_message(raw, internal_date=WHEN))
        lean = envelope_fields(parse_envelope(envelope_block(raw), WHEN))
        assert lean == full


@pytest.mark.parametrize("raw", [
    # folded, RFC 2047 in a name with a comma, two To: lines, Cc with a group
    b'Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n and more\r\n'
    b'From: "=?utf-8?b?TcO8bGxlciwgSGFucw==?=" <hans@x.test>\r\n'
    b"To: a@x.test\r\nTo: b@x.test\r\nCc: friends: c@x.test, d@x.test;\r\n"
    b"Message-ID: <id1@x.test>\r\nReferences: <r1@x.test>\r\n\t<r2@x.test>\r\n"
    b"In-Reply-To: <r2@x.test>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0100\r\n\r\n",
    # raw 8-bit in a windows-1252 message's subject and name, no Date
    b"Content-Type: text/plain; charset=windows-1252\r\n"
    b"Subject: caf\xe9 cr\xe8me\r\nFrom: Ren\xe9 <rene@x.test>\r\n\r\n",
    # raw UTF-8, a bare Message-ID, an unreadable date
    "Subject: Grüße aus Köln\r\nMessage-ID: bare@x.test\r\nDate: yesterday\r\n\r\n"
    .encode(),
    # a header line without a colon ends the header block for compat32
    b"Subject: first\r\nnot a header line\r\nFrom: late@x.test\r\n\r\n",
    # nothing at all
    b"\r\n",
])
def test_awkward_headers_match_the_full_parser(raw: bytes) -> None:
    full = envelope_fields(parse_message(raw + b"body\r\n", internal_date=WHEN))
    assert envelope_fields(parse_envelope(raw, WHEN)) == full


def test_header_items_keep_folds_and_cap_long_values() -> None:
    items = header_items(b"Subject: a\r\n b\r\nX-Long: " + b"y" * 20000 + b"\r\n\r\n")
    assert items[0] == ("Subject", "a\n b")
    assert len(items[1][1]) == 16_384
