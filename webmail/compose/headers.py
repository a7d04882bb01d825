"""Checked header values: every user-supplied field passes here before builder.py.

This interpreter lacks the fix for CVE-2024-6923 (the email generator accepted line
breaks inside header values, so "Subject: hi\\r\\nBcc: x" became two headers) and for
CVE-2023-27043 (getaddresses() mis-parsing odd addresses). So: no line break of any kind
(CR, LF and every Unicode line or paragraph separator that str.splitlines() honours), no
control character, bounded lengths, and an address parser of our own that accepts only
plain `local@domain` forms, with or without a display name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_SUBJECT = 998
MAX_NAME = 200
MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
MAX_LOCAL = 64
MAX_RECIPIENTS = 500
MAX_ID = 998


class HeaderValueError(ValueError):
    """A value that cannot go into a header; the message is fit to show the person."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_BAD_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs", "Co", "Cn"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_character(value: str) -> str | None:
    for char in value:
        if char == "\t":
            continue
        # Cc covers C0 (CR, LF, VT, FF, FS/GS/RS...), DEL and C1 (NEL \x85); Zl and Zp
        # are U+2028 and U+2029; Cf are invisible format marks (bidi overrides).
        category = unicodedata.category(char)
        if category in _BAD_CATEGORIES or char in _BIDI_CONTROLS:
            return char
    return None


def clean_text(value: str, *, field: str, max_length: int) -> str:
    """A single-line header value, or HeaderValueError."""
    if len(value) > max_length:
        raise HeaderValueError(field, f"is longer than {max_length} characters.")
    bad = _bad_character(value)
    if bad is not None:
        raise HeaderValueError(
            field, f"contains a line break or control character (U+{ord(bad):04X})."
        )
    if len(value.splitlines()) > 1:  # belt and braces: anything Python splits on
        raise HeaderValueError(field, "contains a line break.")
    return value.strip()


def clean_subject(value: str) -> str:
    return clean_text(value, field="Subject", max_length=MAX_SUBJECT)


def clean_name(value: str, *, field: str = "Name") -> str:
    name = clean_text(value, field=field, max_length=MAX_NAME)
    # Quotes and angle brackets inside a display name are legal once quoted, but the
    # email package's quoting of them has had bugs; nobody needs them in a name.
    return name.replace('"', "").replace("<", "").replace(">", "").strip()


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str

    @property
    def needs_smtputf8(self) -> bool:
        return not self.address.isascii()

    def __str__(self) -> str:
        return f'"{self.name}" <{self.address}>' if self.name else self.address


# Local part: dot-atom characters (RFC 5322 atext) plus any non-ASCII letter (RFC 6531);
# no quoted local parts, which no one types and which hide tricks.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
                       r"(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9\-\u0080-\U0010ffff]{1,63}(?<!-)$")


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain.lower()
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain  # kept as typed; sending it then needs SMTPUTF8


def clean_address(value: str, *, field: str = "Address") -> str:
    """A bare `local@domain` or HeaderValueError; the domain is lower-cased and, when
    possible, put in its ASCII (IDNA) form so that only non-ASCII local parts need
    SMTPUTF8."""
    address = clean_text(value, field=field, max_length=MAX_ADDRESS).strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise HeaderValueError(field, f"“{address}” is not an email address.")
    if len(local) > MAX_LOCAL or not _LOCAL_RE.match(local):
        raise HeaderValueError(field, f"“{address}” is not a valid email address.")
    labels = domain.rstrip(".").split(".")
    if len(labels) < 1 or not all(_LABEL_RE.match(label) for label in labels):
        raise HeaderValueError(field, f"“{address}” has an invalid domain.")
    return f"{local}@{_ascii_domain(domain.rstrip('.'))}"


def split_list(text: str) -> list[str]:
    """Split on commas and semicolons outside double quotes and angle brackets."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    angle = False
    for char in text:
        if char == '"' and not angle:
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        if char in ",;" and not quoted and not angle:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parse_mailbox(item: str, *, field: str) -> Mailbox:
    item = item.strip()
    if item.endswith(">") and "<" in item:
        name_part, _, rest = item.rpartition("<")
        address = clean_address(rest[:-1], field=field)
        name = clean_name(name_part.strip().strip('"').strip(), field=field)
        return Mailbox(name, address)
    if "<" in item or ">" in item:
        raise HeaderValueError(field, f"“{item}” is not an email address.")
    return Mailbox("", clean_address(item, field=field))


def parse_address_list(text: str, *, field: str) -> list[Mailbox]:
    """"Zoë <zoe@example.org>, bob@example.org" -> [Mailbox, ...], or HeaderValueError.

    The whole text is checked for line breaks first, so an injected "\\r\\nBcc:" is
    refused rather than split away.
    """
    clean_text(text, field=field, max_length=MAX_RECIPIENTS * (MAX_ADDRESS + MAX_NAME))
    mailboxes = [parse_mailbox(item, field=field) for item in split_list(text)]
    if len(mailboxes) > MAX_RECIPIENTS:
        raise HeaderValueError(field, f"has more than {MAX_RECIPIENTS} addresses.")
    return mailboxes


_MSGID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def clean_message_ids(values: list[str] | str, *, field: str) -> list[str]:
    """Message-IDs for In-Reply-To/References: only well-formed `<x@y>` ones are kept
    (they come from received mail, which may hold anything)."""
    items = values.split() if isinstance(values, str) else values
    kept: list[str] = []
    for item in items:
        token = item.strip()
        if token and not token.startswith("<"):
            token = f"<{token}>"
        if (len(token) <= MAX_ID and token.isascii() and _MSGID_RE.match(token)
                and _bad_character(token) is None):
            kept.append(token)
    return kept
