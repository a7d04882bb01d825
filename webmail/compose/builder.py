"""The outgoing message, built with the standard email package.

Structure: text/plain alone, or multipart/alternative (text/plain made from the HTML,
then text/html, wrapped with its inline images in multipart/related when there are
any), inside multipart/mixed when files or forwarded messages are attached.

Every header value comes through headers.py first (see there for why). Non-ASCII
display names, subjects and file names are RFC 2047/2231 encoded by the SMTP policy;
only a non-ASCII local part in an address switches to the SMTPUTF8 policy (raw UTF-8
headers), which the relay then requires the server to offer. Bcc never becomes a header:
it lives only in the envelope.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

from webmail.compose.headers import (
    HeaderValueError,
    Mailbox,
    clean_address,
    clean_message_ids,
    clean_name,
    clean_subject,
    clean_text,
)
from webmail.parsing.sanitize import html_to_text

MAX_FILENAME = 200
MAX_REFERENCES = 30  # older ancestors add nothing to threading and lengthen the header


@dataclass(frozen=True)
class FilePart:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""  # set for an inline image the HTML refers to as cid:
    inline: bool = False


@dataclass(frozen=True)
class OutgoingMessage:
    sender: Mailbox
    to: Sequence[Mailbox] = ()
    cc: Sequence[Mailbox] = ()
    bcc: Sequence[Mailbox] = ()
    reply_to: Mailbox | None = None
    subject: str = ""
    text: str = ""
    html: str | None = None  # None: a plain-text message
    attachments: Sequence[FilePart] = ()
    attached_messages: Sequence[bytes] = ()  # forward as attachment (message/rfc822)
    in_reply_to: str = ""
    references: Sequence[str] = ()
    message_id: str = ""
    date: datetime | None = None
    extra_headers: Sequence[tuple[str, str]] = field(default_factory=tuple)


@dataclass(frozen=True)
class BuiltMessage:
    raw: bytes
    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    smtputf8: bool


def make_message_id(address: str) -> str:
    """A Message-ID in the sender's domain (no socket.getfqdn(), which can hang)."""
    domain = address.rpartition("@")[2] or "localhost"
    if not domain.isascii():
        domain = "localhost"
    return f"<{secrets.token_hex(12)}@{domain}>"


def _address(mailbox: Mailbox, *, field: str) -> Address:
    # Checked again here: the builder must be safe even if a caller skipped the form.
    name = clean_name(mailbox.name, field=field)
    address = clean_address(mailbox.address, field=field)
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _set_addresses(msg: EmailMessage, header: str, mailboxes: Sequence[Mailbox]) -> None:
    if mailboxes:
        msg[header] = [_address(m, field=header) for m in mailboxes]


def _split_type(content_type: str) -> tuple[str, str]:
    maintype, _, subtype = content_type.strip().lower().partition("/")
    if not maintype or not subtype or any(c in content_type for c in "\r\n;\"\\ "):
        return "application", "octet-stream"
    return maintype, subtype


def _safe_filename(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\"')
    cleaned = cleaned.strip()[:MAX_FILENAME]
    return cleaned or "attachment"


def _body(msg: EmailMessage, message: OutgoingMessage) -> None:
    if message.html is None:
        msg.set_content(message.text or "", subtype="plain", charset="utf-8")
        return
    text = message.text or html_to_text(message.html)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(message.html, subtype="html", charset="utf-8")
    inline = [part for part in message.attachments if part.inline and part.content_id]
    if inline:
        parts = msg.get_payload()
        assert isinstance(parts, list)
        html_part = parts[1]
        assert isinstance(html_part, EmailMessage)
        for part in inline:
            maintype, subtype = _split_type(part.content_type)
            html_part.add_related(
                part.data, maintype, subtype, cid=f"<{part.content_id}>",
                filename=_safe_filename(part.filename), disposition="inline",
            )


def _attachments(msg: EmailMessage, message: OutgoingMessage) -> None:
    for part in message.attachments:
        if part.inline and part.content_id and message.html is not None:
            continue  # already in multipart/related next to the HTML
        maintype, subtype = _split_type(part.content_type)
        # Bytes go base64 whatever the type: the recipient gets exactly the file's bytes
        # (no charset guessing or line-end changes for text files).
        msg.add_attachment(part.data, maintype=maintype, subtype=subtype,
                           filename=_safe_filename(part.filename))
    for raw in message.attached_messages:
        inner = BytesParser(policy=policy.compat32).parsebytes(raw)
        msg.add_attachment(inner, filename="forwarded.eml")  # type: ignore[arg-type]


def build_message(message: OutgoingMessage) -> BuiltMessage:
    """Bytes ready for SMTP (CRLF line ends) plus the envelope; HeaderValueError if any
    field cannot be a header."""
    sender = Mailbox(clean_name(message.sender.name, field="From"),
                     clean_address(message.sender.address, field="From"))
    everyone = [sender, *message.to, *message.cc, *message.bcc]
    if message.reply_to is not None:
        everyone.append(message.reply_to)
    smtputf8 = any(m.needs_smtputf8 for m in everyone)
    chosen = policy.SMTPUTF8 if smtputf8 else policy.SMTP

    msg = EmailMessage(policy=chosen)
    msg["Date"] = format_datetime(message.date) if message.date else format_datetime(
        datetime.now().astimezone()
    )
    _set_addresses(msg, "From", [sender])
    _set_addresses(msg, "To", message.to)
    _set_addresses(msg, "Cc", message.cc)
    if message.reply_to is not None:
        _set_addresses(msg, "Reply-To", [message.reply_to])
    msg["Subject"] = clean_subject(message.subject)
    message_id = message.message_id or make_message_id(sender.address)
    ids = clean_message_ids([message_id], field="Message-ID")
    if not ids:
        raise HeaderValueError("Message-ID", "is not a valid message id.")
    msg["Message-ID"] = ids[0]
    parent = clean_message_ids([message.in_reply_to], field="In-Reply-To")
    if parent:
        msg["In-Reply-To"] = parent[0]
    references = clean_message_ids(list(message.references), field="References")
    if parent and parent[0] not in references:
        references.append(parent[0])
    if references:
        # Keep the root and the most recent ancestors (RFC 5322 3.6.4 advice).
        kept = references if len(references) <= MAX_REFERENCES else (
            references[:1] + references[-(MAX_REFERENCES - 1):])
        msg["References"] = " ".join(kept)
    for name, value in message.extra_headers:
        msg[clean_text(name, field="Header", max_length=76)] = clean_text(
            value, field=name, max_length=MAX_REFERENCES * 100)

    _body(msg, message)
    _attachments(msg, message)
    raw = msg.as_bytes(policy=chosen)
    recipients: list[str] = []
    seen: set[str] = set()
    for mailbox in [*message.to, *message.cc, *message.bcc]:
        address = clean_address(mailbox.address)
        if address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    return BuiltMessage(raw=raw, message_id=ids[0], envelope_from=sender.address,
                        recipients=tuple(recipients), smtputf8=smtputf8)
