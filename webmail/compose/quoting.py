"""Reply, reply all and forward: a new draft filled from a received message."""

from __future__ import annotations

from django.utils.html import escape, linebreaks

from accounts.models import User
from webmail.compose.drafts import new_draft
from webmail.compose.identities import ensure_default_identity
from webmail.compose.models import Draft, DraftAttachment, Identity, ReplyKind
from webmail.mail import blobs
from webmail.mail.models import Attachment, Message
from webmail.parsing.mime import Address, ParsedMessage, parse_message
from webmail.parsing.parts import get_part
from webmail.parsing.sanitize import sanitize_html
from webmail.parsing.threads import is_reply_subject

MAX_REFERENCES = 30


def _parsed(message: Message) -> ParsedMessage:
    if message.blob_id:
        try:
            return parse_message(blobs.get(message.blob_id))
        except blobs.BlobMissing:
            pass
    return ParsedMessage(subject=message.subject, text=message.snippet)


def _format(addresses: list[Address] | tuple[Address, ...]) -> str:
    return ", ".join(f'"{a.name}" <{a.address}>' if a.name else a.address
                     for a in addresses if a.address)


def _identity_for(message: Message, parsed: ParsedMessage) -> Identity:
    """The identity the message was written to, else the account's default."""
    mine = {a.address.lower() for a in (*parsed.to, *parsed.cc)}
    for identity in Identity.objects.filter(account_id=message.account_id):
        if identity.address.lower() in mine:
            return identity
    return ensure_default_identity(message.account)


def _prefixed(prefix: str, subject: str) -> str:
    if prefix == "Re:" and is_reply_subject(subject) and subject.lower().startswith("re:"):
        return subject
    return f"{prefix} {subject}".strip()


def _quote(parsed: ParsedMessage, intro: str) -> tuple[str, str]:
    """(html, text) of the original, quoted under a one-line introduction."""
    inner = sanitize_html(parsed.html).html if parsed.html else linebreaks(parsed.text)
    html = f"<p><br></p><p>{escape(intro)}</p><blockquote>{inner}</blockquote>"
    text = "\n\n" + intro + "\n" + "\n".join(f"> {line}" for line in parsed.text.splitlines())
    return html, text


def start_reply(*, owner: User, message: Message, kind: str) -> Draft:
    """A draft answering `message` (loaded through an access helper by the caller)."""
    parsed = _parsed(message)
    identity = _identity_for(message, parsed)
    me = identity.address.lower()
    sender = parsed.reply_to or parsed.from_
    to = list(sender)
    cc: list[Address] = []
    if kind == ReplyKind.REPLY_ALL:
        seen = {a.address.lower() for a in to} | {me}
        for address in (*parsed.to, *parsed.cc):
            if address.address.lower() not in seen:
                seen.add(address.address.lower())
                cc.append(address)
    who = sender[0].name or sender[0].address if sender else "someone"
    when = parsed.date.strftime("%a, %d %b %Y at %H:%M") if parsed.date else "an earlier date"
    html, text = _quote(parsed, f"On {when}, {who} wrote:")
    references = [*parsed.references[-(MAX_REFERENCES - 1):], parsed.message_id]
    return new_draft(
        owner=owner, account=message.account, identity=identity, kind=kind, source=message,
        to=_format(to), cc=_format(cc), subject=_prefixed("Re:", parsed.subject),
        body_html=html, body_text=text, in_reply_to=parsed.message_id,
        references=" ".join(r for r in references if r),
    )


def start_forward(*, owner: User, message: Message, attached: bool = False) -> Draft:
    """Forward inline (quoted text plus the original's files) or as one .eml file."""
    parsed = _parsed(message)
    identity = _identity_for(message, parsed)
    kind = ReplyKind.FORWARD_ATTACHED if attached else ReplyKind.FORWARD
    if attached:
        html, text = "<p><br></p>", ""
    else:
        lines = [
            "---------- Forwarded message ----------",
            f"From: {_format(parsed.from_)}",
            f"Date: {parsed.date.strftime('%a, %d %b %Y %H:%M %z') if parsed.date else ''}",
            f"Subject: {parsed.subject}",
            f"To: {_format(parsed.to)}",
        ]
        inner = sanitize_html(parsed.html).html if parsed.html else linebreaks(parsed.text)
        html = ("<p><br></p><p>" + "<br>".join(escape(line) for line in lines) + "</p>"
                + inner)
        text = "\n\n" + "\n".join(lines) + "\n\n" + parsed.text
    draft = new_draft(owner=owner, account=message.account, identity=identity, kind=kind,
                      source=message, subject=_prefixed("Fwd:", parsed.subject),
                      body_html=html, body_text=text)
    raw = blobs.get(message.blob_id) if message.blob_id else b""
    if attached and raw:
        name = (parsed.subject or "message")[:100].replace("/", "_") + ".eml"
        DraftAttachment.objects.create(draft=draft, filename=name,
                                       content_type="message/rfc822", size=len(raw),
                                       blob=blobs.put(raw))
    elif raw:
        for attachment in Attachment.objects.filter(message=message).order_by("id"):
            data = get_part(raw, attachment.part_path)
            DraftAttachment.objects.create(
                draft=draft, filename=attachment.filename,
                content_type=attachment.content_type, size=len(data), blob=blobs.put(data),
                content_id=attachment.content_id.strip("<>"), inline=attachment.is_inline)
    return draft
