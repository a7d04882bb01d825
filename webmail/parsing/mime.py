"""Raw RFC 5322 bytes -> ParsedMessage, the way mail clients read them. Never raises.

We parse with the compat32 policy: the default policy's header parser is quadratic on
hostile headers (see shared/PITFALLS.md). Headers are capped, then decoded by us;
parts are walked with limits on depth and count (see parts.py for part access), and a part we cannot
decode becomes an attachment. Part paths ("1", "1.2", ...) follow IMAP numbering
so that `get_part(raw, path)` finds the same part again later.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from webmail.parsing.calendar import CalendarEvent, parse_calendar_event
from webmail.parsing.charsets import (
    decode_header_value,
    message_ids,
    parse_address_pairs,
    parse_date,
)
from webmail.parsing.parts import (
    MAX_BODY_CHARS,
    cap_headers,
    child_parts,
    content_id_of,
    content_type_of,
    disposition_of,
    filename_of,
    get_part,
    header_param,
    header_text,
    part_text,
    payload_bytes,
    payload_size,
    safe_filename,
    to_message,
)
from webmail.parsing.reports import DeliveryReport, summarise_report
from webmail.parsing.sanitize import html_to_text

# Mail with more parts than this is a bomb or a mailing-list digest gone wrong; the
# rest of the message stays downloadable as raw bytes.
MAX_PARTS = 500
# Real nesting is under 10 levels; the stdlib parser recurses per level.
MAX_DEPTH = 20
# Characters of text kept for full-text search per message.
MAX_SEARCH_TEXT = 200_000
SNIPPET_LENGTH = 200


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    path: str
    disposition: str  # "inline" or "attachment"
    content_id: str = ""


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    subject: str = ""
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    date: datetime | None = None
    text: str = ""
    html: str = ""
    snippet: str = ""
    attachments: tuple[Attachment, ...] = ()
    forwarded: tuple[ParsedMessage, ...] = ()
    reports: tuple[DeliveryReport, ...] = ()
    events: tuple[CalendarEvent, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    search_text: str = ""

    def part_for_content_id(self, content_id: str) -> Attachment | None:
        """The part a `cid:` URL in the HTML body refers to."""
        wanted = content_id.strip().strip("<>").lower()
        for attachment in self.attachments:
            if attachment.content_id and attachment.content_id.lower() == wanted:
                return attachment
        return None

    def header(self, name: str) -> list[str]:
        """All decoded values of one header, in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


# --- The walk: which parts a person sees, and how ------------------------------------

_BODY_SUBTYPES = frozenset({"plain", "html"})
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
_REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "message/feedback-report"}
)
_ENCLOSED_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_BOTH = frozenset({"text", "html"})


def _child_path(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


def _warn(warnings: list[str], message: str) -> None:
    if message not in warnings:
        warnings.append(message)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Budget:
    """Parts seen so far across the message and every message enclosed in it."""

    def __init__(self) -> None:
        self.parts = 0


class _Walker:
    def __init__(self, budget: _Budget, warnings: list[str], charset: str | None,
                 *, for_store: bool = False) -> None:
        self.budget = budget
        self.warnings = warnings
        self.charset = charset
        self.for_store = for_store
        self.text: list[tuple[str, str]] = []  # ("text" | "html", content)
        self.html: list[tuple[str, str]] = []
        self.attachments: list[Attachment] = []
        self.forwarded: list[ParsedMessage] = []
        self.reports: list[DeliveryReport] = []
        self.events: list[CalendarEvent] = []

    def visit(self, part: Message, path: str, depth: int, want: frozenset[str]) -> None:
        self.budget.parts += 1
        if self.budget.parts > MAX_PARTS:
            _warn(
                self.warnings, f"This message has more than {MAX_PARTS} parts; the rest are hidden."
            )
            return
        cap_headers(part, self.warnings)
        ctype = content_type_of(part)
        maintype, _, subtype = ctype.partition("/")
        children = child_parts(part)
        if depth > MAX_DEPTH:
            _warn(self.warnings, "This message is nested too deeply; inner parts are attachments.")
            self.attach(part, path, ctype)
        elif maintype == "multipart" and children:
            self.multipart(part, children, path, depth, want)
        elif ctype in _REPORT_TYPES:
            report = summarise_report(part)
            if report is not None:
                self.reports.append(report)
        elif maintype == "message" and children and ctype in _ENCLOSED_TYPES:
            self.attach(part, path, ctype)
            self.enclosed(children[0], path, depth)
        elif maintype == "multipart" or (
            maintype == "text" and subtype in _BODY_SUBTYPES and self.is_inline(part)
        ):
            # A multipart without usable boundaries is shown as the text it is.
            self.body(part, "html" if subtype == "html" else "text", want)
        else:
            if ctype in _CALENDAR_TYPES:
                event = parse_calendar_event(part_text(part, self.warnings))
                if event is not None:
                    self.events.append(event)
            self.attach(part, path, ctype)

    def is_inline(self, part: Message) -> bool:
        disposition = disposition_of(part)
        if disposition == "attachment":
            return False
        return disposition == "inline" or not filename_of(part, self.charset)

    def multipart(
        self, part: Message, children: list[Message], path: str, depth: int, want: frozenset[str]
    ) -> None:
        subtype = content_type_of(part).partition("/")[2]
        paths = [_child_path(path, index) for index in range(1, len(children) + 1)]
        if subtype == "alternative":
            self.alternative(children, paths, depth, want)
        elif subtype == "related":
            root = 0
            wanted = header_param(part, "Content-Type", "start").strip().strip("<>")
            root_type = header_param(part, "Content-Type", "type").strip().lower()
            by_id = [i for i, c in enumerate(children) if wanted and content_id_of(c) == wanted]
            by_type = [i for i, c in enumerate(children) if content_type_of(c) == root_type]
            root = (by_id or by_type or [0])[0]
            for index, child in enumerate(children):
                if index == root:
                    self.visit(child, paths[index], depth + 1, want)
                else:
                    self.attach(child, paths[index], content_type_of(child), inline=True)
        elif subtype in {"signed", "encrypted"}:
            # Signed: show the content, list the signature. Encrypted: nothing readable.
            first = 0 if subtype == "signed" else len(children)
            for index, child in enumerate(children):
                if index == first:
                    self.visit(child, paths[index], depth + 1, want)
                else:
                    self.attach(child, paths[index], content_type_of(child))
        else:  # mixed, digest, report, parallel and unknown: everything in order
            for index, child in enumerate(children):
                self.visit(child, paths[index], depth + 1, want)

    def alternative(
        self, children: list[Message], paths: list[str], depth: int, want: frozenset[str]
    ) -> None:
        plain = rich = None
        for index, child in enumerate(children):
            ctype = content_type_of(child)
            if ctype == "text/plain":
                plain = index
            elif ctype == "text/html" or ctype.startswith("multipart/"):
                rich = index
            elif ctype in _CALENDAR_TYPES:
                self.visit(child, paths[index], depth + 1, want)
        if plain is not None and rich is not None:
            if "text" in want:
                self.visit(children[plain], paths[plain], depth + 1, frozenset({"text"}))
            if "html" in want:
                self.visit(children[rich], paths[rich], depth + 1, frozenset({"html"}))
            return
        chosen = rich if rich is not None else plain
        if chosen is None:
            chosen = len(children) - 1
        self.visit(children[chosen], paths[chosen], depth + 1, want)

    def body(self, part: Message, kind: str, want: frozenset[str]) -> None:
        if self.for_store and "text" not in want:
            # Only the reader's HTML wants this part: not decoded for the store, but its
            # "very long" warning is kept (decoded text is never longer than its bytes).
            if len(payload_bytes(part)) > MAX_BODY_CHARS:
                part_text(part, self.warnings)
            return
        content = part_text(part, self.warnings)
        if "text" in want:
            self.text.append((kind, content))
        if "html" in want and not self.for_store:
            self.html.append((kind, content))

    def attach(self, part: Message, path: str, ctype: str, *, inline: bool = False) -> None:
        disposition = "inline" if inline or disposition_of(part) == "inline" else "attachment"
        name = filename_of(part, self.charset)
        if not name and ctype in _ENCLOSED_TYPES and child_parts(part):
            subject = header_text(child_parts(part)[0], "Subject")
            name = decode_header_value(subject[:200], self.charset)
            name = f"{name}.eml" if name else ""
        number = len(self.attachments) + 1
        self.attachments.append(
            Attachment(
                filename=safe_filename(name, ctype, number),
                content_type=ctype,
                size=payload_size(part),
                path=path,
                disposition=disposition,
                content_id=content_id_of(part),
            )
        )

    def enclosed(self, inner: Message, path: str, depth: int) -> None:
        if depth + 1 > MAX_DEPTH:
            return
        nested = walk_message(inner, path, depth + 1, None, [], self.budget,
                              for_store=self.for_store)
        self.forwarded.append(nested)

    def text_body(self) -> str:
        pieces = [html_to_text(c) if kind == "html" else c for kind, c in self.text]
        return "\n\n".join(piece.strip("\n") for piece in pieces if piece.strip())

    def html_body(self) -> str:
        if not any(kind == "html" for kind, _ in self.html):
            return ""
        return "\n".join(
            content if kind == "html" else f'<pre class="text-part">{_escape(content)}</pre>'
            for kind, content in self.html
        )


def _snippet(text: str) -> str:
    """The text's first SNIPPET_LENGTH characters with its runs of white space as one
    space, read from a short prefix when that prefix holds them all (a tenth of the
    text otherwise split, and 4% of a sync's parse; py-spy)."""
    short = " ".join(text[: SNIPPET_LENGTH * 2].split())
    # Words before the short prefix's last one (which the cut may have split) are the
    # whole text's words too.
    if short.rfind(" ") >= SNIPPET_LENGTH:
        return short[:SNIPPET_LENGTH]
    return " ".join(text[: SNIPPET_LENGTH * 20].split())[:SNIPPET_LENGTH]


def walk_message(
    message: Message,
    path: str,
    depth: int,
    internal_date: datetime | None,
    warnings: list[str],
    budget: _Budget | None = None,
    *,
    for_store: bool = False,
) -> ParsedMessage:
    """Build a ParsedMessage from a parsed Message (the top one or an enclosed one).

    `for_store` leaves out what only the reader shows (see parse_message)."""
    cap_headers(message, warnings)
    try:
        root_charset = message.get_param("charset")
    except (Exception, RecursionError):  # noqa: BLE001
        root_charset = None
    charset = root_charset if isinstance(root_charset, str) else None
    headers = [] if for_store else [
        (name, decode_header_value(value, charset)) for name, value in message.raw_items()]

    def first(name: str) -> str:
        for key, value in message.raw_items():
            if key.lower() == name:
                return value
        return ""

    def addresses(name: str) -> tuple[Address, ...]:
        found = [
            Address(name=n, address=a)
            for key, value in message.raw_items()
            if key.lower() == name
            for n, a in parse_address_pairs(value, charset)
        ]
        return tuple(found)

    walker = _Walker(budget or _Budget(), warnings, charset, for_store=for_store)
    is_multipart = message.get_content_maintype() == "multipart" and child_parts(message)
    root_path = path if is_multipart else _child_path(path, 1)
    walker.visit(message, root_path, depth, _BOTH)
    text, html = walker.text_body(), walker.html_body()
    subject = decode_header_value(first("subject"), charset)
    in_reply_to = message_ids(first("in-reply-to"))
    message_id = message_ids(first("message-id"))
    parsed = ParsedMessage(
        message_id=message_id[0] if message_id else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(message_ids(first("references"))),
        subject=subject,
        from_=addresses("from"),
        sender=addresses("sender"),
        reply_to=addresses("reply-to"),
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        date=parse_date(first("date")[:200]) or internal_date,
        text=text,
        html=html,
        snippet=_snippet(text),
        attachments=tuple(walker.attachments),
        forwarded=tuple(walker.forwarded),
        reports=tuple(walker.reports),
        events=tuple(walker.events),
        headers=tuple(headers),
        warnings=tuple(warnings),
    )
    people = " ".join(str(a) for a in (*parsed.from_, *parsed.to, *parsed.cc, *parsed.reply_to))
    search = "\n".join(
        [subject, people, text]
        + [a.filename for a in parsed.attachments]
        + [nested.search_text for nested in parsed.forwarded]
    )
    return dataclasses.replace(parsed, search_text=search[:MAX_SEARCH_TEXT])


def parse_message(raw: bytes, *, internal_date: datetime | None = None,
                  for_store: bool = False) -> ParsedMessage:
    """Parse raw message bytes. Never raises: worst case is a minimal message with a
    warning (the raw bytes stay downloadable).

    `for_store`: the fields a sync stores (envelope, snippet, attachments, search text,
    warnings) come out the same, but `html` and `headers` stay empty (at every level):
    the HTML alternative of a text part is not decoded and the headers not decoded for
    display, which the reader does when it parses the blob again.
    """
    try:
        warnings: list[str] = []
        return walk_message(to_message(raw, warnings), "", 0, internal_date, warnings,
                            for_store=for_store)
    except (Exception, RecursionError):  # noqa: BLE001 - the last line of defence
        return ParsedMessage(
            date=internal_date,
            warnings=("This message could not be read; you can still download it.",),
        )


__all__ = [
    "Address",
    "Attachment",
    "CalendarEvent",
    "DeliveryReport",
    "ParsedMessage",
    "get_part",
    "html_to_text",
    "message_ids",
    "parse_date",
    "parse_message",
    "safe_filename",
]
