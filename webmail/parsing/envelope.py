"""The envelope of a message from its header fields alone, for the IMAP headers phase.

The message list needs eight header fields. Parsing each header block with the full MIME
parser (email.parser, then every header decoded) took about 350 us a message (profiled,
see bench/README.md). Here the wanted fields are cut out of the header block directly
and decoded with the parser's own helpers (webmail.parsing.charsets), so the fields equal
what `parse_message` gives (tests/sync/test_imap_headers.py, on the benchmark's generated
mail and hostile headers).

No Django here: the sync's parsing workers (webmail/sync/imap_prepare.py) run it too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from webmail.parsing.charsets import (
    decode_header_value,
    message_ids,
    parse_address_pairs,
    parse_date,
)
from webmail.parsing.mime import Address, ParsedMessage
from webmail.parsing.parts import MAX_HEADER_LENGTH

# What the headers phase asks the server for (BODY.PEEK[HEADER.FIELDS (...)]):
# envelope_fields' inputs, and Content-Type for the charset of raw 8-bit headers.
ENVELOPE_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To",
                    "References", "Content-Type")

# compat32's header line: a name of printable characters but ":" and space, then ":".
_HEADER_LINE = re.compile(r"([\x21-\x39\x3b-\x7e]+):(.*)", re.DOTALL)
_CHARSET = re.compile(r"""charset\s*=\s*"?([^";\s]*)""", re.IGNORECASE)


def header_items(header_bytes: bytes) -> list[tuple[str, str]]:
    """(name, raw value) pairs, as email's compat32 parser gives them in raw_items()."""
    text = header_bytes.decode("ascii", "surrogateescape")
    items: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            break  # the blank line that ends the header block
        if line[0] in " \t":
            if items:
                name, value = items[-1]
                items[-1] = (name, value + "\n" + line)
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            if not items and line.startswith("From "):
                continue  # an mbox separator
            break  # compat32 takes the rest as the body
        items.append((match.group(1), match.group(2).lstrip(" \t")))
    return [(name, value[:MAX_HEADER_LENGTH]) for name, value in items]


def parse_envelope(header_bytes: bytes, internal_date: datetime | None) -> ParsedMessage:
    """The envelope part of parse_message's result (ids, subject, addresses, date)."""
    items = header_items(header_bytes)
    firsts: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for name, value in items:
        key = name.lower()
        firsts.setdefault(key, value)
        every.setdefault(key, []).append(value)
    found = _CHARSET.search(firsts.get("content-type", ""))
    charset = found.group(1) if found and found.group(1) else None

    def addresses(name: str) -> tuple[Address, ...]:
        return tuple(Address(name=n, address=a) for value in every.get(name, ())
                     for n, a in parse_address_pairs(value, charset))

    in_reply_to = message_ids(firsts.get("in-reply-to", ""))
    message_id = message_ids(firsts.get("message-id", ""))
    return ParsedMessage(
        message_id=message_id[0] if message_id else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(message_ids(firsts.get("references", ""))),
        subject=decode_header_value(firsts.get("subject", ""), charset),
        from_=addresses("from"),
        to=addresses("to"),
        cc=addresses("cc"),
        date=parse_date(firsts.get("date", "")[:200]) or internal_date,
    )


def parse_envelopes(blocks: Sequence[tuple[bytes, datetime | None]]) -> list[ParsedMessage]:
    """parse_envelope for a batch: one call (and one pickle each way) per batch when a
    worker process does it."""
    return [parse_envelope(header_bytes, internal_date) for header_bytes, internal_date in blocks]
