"""From raw bytes to the store's derived fields: the one place both sync engines use.

Plain functions over parse_message's result, so IMAP and POP3 fill a Message the same
way, and a parser upgrade can rebuild every message from its blob.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webmail.mail import blobs
from webmail.mail.models import Attachment, BodyState, Message
from webmail.parsing.mime import Address, ParsedMessage, parse_message

# Column widths of Message (see models): longer values are cut, never rejected.
_MAX_SHORT = 500
_MAX_ID = 998
_SNIPPET = 300


def _addresses(addresses: tuple[Address, ...]) -> list[list[str]]:
    return [[a.name[:_MAX_SHORT], a.address[:_MAX_SHORT]] for a in addresses]


def envelope_fields(parsed: ParsedMessage, *, size: int | None = None) -> dict[str, Any]:
    """Fields the message list needs; also what a headers-only fetch can fill."""
    sender = parsed.from_[0] if parsed.from_ else Address("", "")
    fields: dict[str, Any] = {
        "message_id": parsed.message_id[:_MAX_ID],
        "in_reply_to": parsed.in_reply_to[:_MAX_ID],
        "references": " ".join(parsed.references),
        "subject": parsed.subject,
        "from_name": sender.name[:_MAX_SHORT],
        "from_address": sender.address[:_MAX_SHORT],
        "to": _addresses(parsed.to),
        "cc": _addresses(parsed.cc),
        "date": parsed.date,
    }
    if size is not None:
        fields["size"] = size
    return fields


def body_fields(parsed: ParsedMessage) -> dict[str, Any]:
    """Fields derived from the whole message (after its bytes are stored)."""
    real = [a for a in parsed.attachments if a.disposition == "attachment" or not a.content_id]
    return {
        "snippet": parsed.snippet[:_SNIPPET],
        "has_attachments": bool(real),
        "attachment_names": [a.filename for a in real],
        "search_text": parsed.search_text,
        "parse_warnings": list(parsed.warnings),
        "body_state": BodyState.FULL,
    }


def attachment_rows(message_id: int, parsed: ParsedMessage) -> list[Attachment]:
    return [
        Attachment(
            message_id=message_id,
            part_path=a.path,
            filename=a.filename,
            content_type=a.content_type[:255],
            size=a.size,
            content_id=a.content_id[:500],
            is_inline=a.disposition == "inline",
        )
        for a in parsed.attachments
    ]


def parse_raw(raw: bytes, internal_date: datetime | None = None) -> ParsedMessage:
    return parse_message(raw, internal_date=internal_date)


def store_full_message(message: Message, raw: bytes) -> ParsedMessage:
    """Store a message's raw bytes and fill every derived field (one message, one save).

    Bulk paths (a first sync) use blobs.put, envelope_fields, body_fields and
    attachment_rows directly with bulk writes.
    """
    parsed = parse_raw(raw, message.internal_date)
    message.blob = blobs.put(raw)
    for name, value in {**envelope_fields(parsed, size=len(raw)), **body_fields(parsed)}.items():
        setattr(message, name, value)
    message.save()
    Attachment.objects.filter(message=message).delete()
    Attachment.objects.bulk_create(attachment_rows(message.pk, parsed))
    return parsed
