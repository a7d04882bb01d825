"""The headers phase's CPU and database work: a lean envelope parse and one INSERT per batch.

The message list needs eight header fields. Parsing each header block with the full MIME
parser (email.parser, then every header decoded) took about 350 us a message, and
Django's bulk_create about 200 us a row (it compiles an expression per value): for a
10,000-message first sync that alone was 5-6 s before the list was complete (profiled,
see bench/README.md). Here the wanted fields are cut out of the header block directly
and decoded with the parser's own helpers (webmail.parsing.charsets), so the fields equal
what `parse_message` gives (tested on the benchmark's generated mail), and the rows go
in as one `INSERT ... ON CONFLICT DO NOTHING` executemany per batch.

The body phase later overwrites these fields from the whole message, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, JSONField
from django.utils import timezone

from accounts.models import MailAccount
from webmail.mail.ingest import envelope_fields
from webmail.mail.models import BodyState, Folder, Message
from webmail.mail.search_batch import search_index_in_bulk
from webmail.mail.threading import assign_thread_keys
from webmail.parsing.charsets import (
    decode_header_value,
    decode_surrogates,
    message_ids,
    parse_address_pairs,
    parse_date,
)
from webmail.parsing.mime import Address, ParsedMessage
from webmail.parsing.parts import MAX_HEADER_LENGTH
from webmail.protocols.imap import HeaderRecord
from webmail.sync.imap_store import flag_columns

# What the headers phase asks the server for (BODY.PEEK[HEADER.FIELDS (...)]):
# envelope_fields' inputs, and Content-Type for the charset of raw 8-bit headers.
ENVELOPE_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To",
                    "References", "Content-Type")

# compat32's header line: a name of printable characters but ":" and space, then ":".
_HEADER_LINE = re.compile(r"([\x21-\x39\x3b-\x7e]+):(.*)", re.DOTALL)
_CHARSET = re.compile(r"""charset\s*=\s*"?([^";\s]*)""", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")
# The plain address forms nearly all mail uses: `a@b.c` and `Some Name <a@b.c>`, each
# comma-separated piece. For these, email.utils.getaddresses (a character-at-a-time
# parser, most of the envelope's time) returns the name's words joined by one space and
# the address as written; anything else (quotes, comments, groups, routes) goes to it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WORD = r"[^()<>@,:;\"\[\]\\ \t\r\n]+"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:({_WORD}(?:[ \t]+{_WORD})*)[ \t]*)?<({_ADDR})>[ \t]*|[ \t]*({_ADDR})[ \t]*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BARE_EOL = re.compile(r"[\r\n]+")


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
                     for n, a in address_pairs(value, charset))

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


def address_pairs(raw_value: str, fallback: str | None) -> list[tuple[str, str]]:
    """parse_address_pairs' result, without its parser for the plain forms."""
    value = _BARE_EOL.sub(" ", _FOLD.sub("", decode_surrogates(raw_value, fallback)))
    pairs: list[tuple[str, str]] = []
    for piece in value.split(","):
        match = _PLAIN_ADDRESS.fullmatch(piece)
        if match is None:
            return parse_address_pairs(raw_value, fallback)
        words, routed, bare = match.groups()
        name = " ".join(re.split(r"[ \t]+", words)) if words else ""
        address = routed or bare
        decoded_name = decode_header_value(name, fallback) if name else ""
        decoded_address = decode_header_value(address, fallback)
        if decoded_address or decoded_name:
            pairs.append((decoded_name, decoded_address))
    return pairs


def _clean(value: Any) -> Any:
    """No lone surrogates reach the database (as imap_store._clean)."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        try:  # bytes smuggled through surrogateescape: get them back
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class _Insert:
    """`INSERT INTO mail_message (...) VALUES (...) ON CONFLICT DO NOTHING`, built once.

    Values go through each field's get_db_prep_save (JSON, dates, booleans), so the
    rows are what bulk_create would write; columns no header row sets keep their
    defaults, prepared once.
    """

    def __init__(self) -> None:
        self.fields: list[Field[Any, Any]] = [
            f for f in Message._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        # Only our own model's column names, quoted by the backend; values are parameters.
        self.sql = (f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) "  # noqa: S608
                    f"VALUES ({marks}) ON CONFLICT DO NOTHING")

    def rows(self, values: Sequence[dict[str, Any]]) -> list[list[Any]]:
        now = timezone.now()
        defaults: dict[str, Any] = {}
        for field in self.fields:
            defaults[field.attname] = now if getattr(field, "auto_now_add", False) or \
                getattr(field, "auto_now", False) else field.get_default()
        constant = {f.attname: f.get_db_prep_save(defaults[f.attname], connection)
                    for f in self.fields}
        # Strings, numbers, booleans and ids go to the driver as they are; only JSON and
        # dates need the field's conversion (half the cost of a row otherwise).
        convert = [(f.attname, isinstance(f, JSONField | DateTimeField)) for f in self.fields]
        return [
            [(f.get_db_prep_save(row[name], connection) if needs else row[name])
             if name in row else constant[name]
             for f, (name, needs) in zip(self.fields, convert, strict=True)]
            for row in values
        ]


def insert_header_rows(account: MailAccount, folder: Folder, uidvalidity: int,
                       records: Sequence[HeaderRecord],
                       parsed: Sequence[ParsedMessage]) -> int:
    """Rows for newly seen messages (envelope and flags), threaded; existing rows are
    kept (the same batch applied twice ends in the same state). One transaction."""
    values = []
    for record, result in zip(records, parsed, strict=True):
        fields = {**flag_columns(record.flags), **envelope_fields(result, size=record.size)}
        fields = {k: _clean(v) for k, v in fields.items()}
        fields.update(account_id=account.pk, folder_id=folder.pk, uidvalidity=uidvalidity,
                      uid=record.uid, modseq=record.modseq,
                      internal_date=record.internal_date, body_state=BodyState.HEADERS.value)
        values.append(fields)
    if not values:
        return 0
    insert = _Insert()
    # On SQLite the rows go in without their search index (the per-row trigger is
    # dropped for the batch): the list shows sooner, and the engine indexes them in
    # bulk once every folder's list is in (search_batch.index_missing_header_rows).
    # Measured on 5,000 generated header rows: 0.64-0.90 s of CPU with the trigger,
    # 0.23-0.26 s in bulk.
    with search_index_in_bulk():
        with connection.cursor() as cursor:
            cursor.executemany(insert.sql, insert.rows(values))
        # No ids come back from an executemany: key the account's unkeyed rows (this batch).
        assign_thread_keys(account.pk)
    return len(values)
