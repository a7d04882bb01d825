"""The layer under ImapClient that talks to imaplib directly: what imapclient lacks.

- `raw_select`: SELECT/EXAMINE with a `(QRESYNC (uidvalidity modseq))` parameter, and the
  VANISHED (EARLIER) and FETCH responses that come back with it (quirk 1 in imap.py);
- `stream_fetch`: one UID FETCH read one response at a time, so a 10,000-message fetch
  never sits in memory as a whole (quirk 3);
- `parse_list_status`: the STATUS responses of `LIST ... RETURN (STATUS (...))`;
- the mapping of imaplib's errors and answers to ours.
"""

from __future__ import annotations

import imaplib
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from imapclient.exceptions import CapabilityError
from imapclient.response_parser import parse_fetch_response, parse_response

from webmail.protocols.errors import (
    ConnectionLost,
    MissingCapability,
    PermanentServerError,
    ProtocolError,
    TemporaryServerError,
    map_exception,
)
from webmail.protocols.imap_types import (
    FlagRecord,
    FolderStatus,
    IdleEvent,
    decode_flags,
    parse_vanished,
)
from webmail.protocols.tls import ServerEndpoint

TEMPORARY_CODES = ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]", "[OVERQUOTA]")


def raw_select(imap: Any, command: str, args: Sequence[str]
               ) -> tuple[dict[str, list[Any]], list[int], list[FlagRecord]]:
    """Run SELECT/EXAMINE; returns (other untagged responses, vanished UIDs, changes)."""
    imap.untagged_responses = {}
    tag = imap._command(command, *args)
    typ, data = imap._command_complete(command, tag)
    check(typ, data, command)
    imap.state = "SELECTED"
    imap.is_readonly = command == "EXAMINE"
    untagged: dict[str, list[Any]] = imap.untagged_responses
    imap.untagged_responses = {}
    vanished: list[int] = []
    for line in untagged.pop("VANISHED", []):
        vanished.extend(parse_vanished(line))
    changed = flag_records(untagged.pop("FETCH", []))
    return untagged, sorted(set(vanished)), changed


def stream_fetch(imap: Any, uids: str, items: str, modifiers: str | None,
                 on_failure: Callable[[], None], where: str
                 ) -> Iterator[tuple[int, dict[bytes, Any]]]:
    """One UID FETCH; yields (uid, fields) per response as it is read off the wire.

    The responses are read straight off imaplib's socket file and parsed by
    `parse_fetch_items`, not by imaplib's per-line matching and imapclient's generic
    lexer: for the headers phase those two were most of the client's time (profiled:
    about 100 us per message, against about 15 us here). Responses without a UID
    (another client's flag change, unsolicited) are skipped.
    """
    args = ["FETCH", uids, f"({items})"] + ([modifiers] if modifiers else [])
    tag = imap._command("UID", *args)
    status: tuple[bytes, bytes] | None = None
    try:
        while status is None:
            text, literals = read_response(imap)
            if text.startswith(tag + b" "):
                typ, _, rest = text[len(tag) + 1:].partition(b" ")
                status = (typ.upper(), rest)
                break
            match = _FETCH_START.match(text)
            if match is not None:
                fields = parse_fetch_items(text, match.end(), literals)
                uid = fields.pop(b"UID", None)
                if isinstance(uid, int):
                    yield uid, fields
            elif text[:6].upper() == b"* BYE ":
                raise ConnectionLost(f"{where} closed the session during FETCH.",
                                     server_text=text[6:206].decode("utf-8", "replace"))
    except GeneratorExit:
        # The caller stopped early (next() on the stream): read the rest of the answer
        # away so the connection stays usable for the next command.
        while status is None:
            text, _ = read_response(imap)
            if text.startswith(tag + b" "):
                status = (b"", b"")
        imap.tagged_commands.pop(tag, None)
        raise
    except BaseException:
        on_failure()  # failed mid-response: the stream position is lost
        raise
    imap.tagged_commands.pop(tag, None)
    check(status[0].decode("ascii", "replace"), [status[1]], "FETCH")


_LITERAL_END = re.compile(rb"\{(\d+)\+?\}$")
_FETCH_START = re.compile(rb"\* \d+ FETCH \(", re.IGNORECASE)
# An item name: an atom, with a [section] (which may hold a parenthesised field list)
# and a <partial> origin.
_ITEM_NAME = re.compile(rb" *([A-Za-z0-9.\-]+(?:\[[^\]]*\])?(?:<\d+>)?) ")
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_ATOM = re.compile(rb"[^ ()\x00]+")
_LITERAL_REF = re.compile(rb"\x00(\d+)\x00")
_MONTHS = {m: i for i, m in enumerate(
    (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT",
     b"NOV", b"DEC"), 1)}
_INTERNALDATE = re.compile(
    rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


def read_response(imap: Any) -> tuple[bytes, list[bytes]]:
    """One whole response: its text, each literal replaced by NUL index NUL, and the
    literals (a NUL cannot occur in IMAP text, so the marker is unambiguous)."""
    parts: list[bytes] = []
    literals: list[bytes] = []
    while True:
        line = imap.readline()
        if not line:
            raise imaplib.IMAP4.abort("socket error: EOF")
        if not line.endswith(b"\r\n"):
            raise imaplib.IMAP4.abort(f"socket error: unterminated line: {line[:100]!r}")
        line = line[:-2]
        match = _LITERAL_END.search(line) if line.endswith(b"}") else None
        if match is None:
            parts.append(line)
            return b"".join(parts), literals
        size = int(match.group(1))
        data = imap.read(size)
        if len(data) != size:
            raise imaplib.IMAP4.abort("socket error: EOF inside a literal")
        parts.append(line[:match.start()] + b"\x00%d\x00" % len(literals))
        literals.append(data)


def parse_fetch_items(text: bytes, pos: int, literals: Sequence[bytes]) -> dict[bytes, Any]:
    """The `name value` pairs of one FETCH response, from just after its "(".

    Values come out the way imapclient gives them, so callers need not care which
    parser ran: UID and RFC822.SIZE as int, FLAGS as a tuple of bytes, MODSEQ as a
    one-int tuple, INTERNALDATE as an aware datetime, sections (BODY[...]) as bytes or
    None; anything else as its raw bytes.
    """
    out: dict[bytes, Any] = {}
    end = len(text)
    while pos < end:
        if text[pos] == 0x29:  # ")": the end of this response
            break
        match = _ITEM_NAME.match(text, pos)
        if match is None:
            raise imaplib.IMAP4.error(f"unreadable FETCH response near {text[pos:pos + 60]!r}")
        name = match.group(1).upper()
        pos = match.end()
        first = text[pos]
        if first == 0x00:  # a literal
            ref = _LITERAL_REF.match(text, pos)
            if ref is None:
                raise imaplib.IMAP4.error("unreadable literal marker in a FETCH response")
            value: Any = literals[int(ref.group(1))]
            pos = ref.end()
        elif first == 0x22:  # a quoted string
            quoted = _QUOTED.match(text, pos)
            if quoted is None:
                raise imaplib.IMAP4.error("unterminated quoted string in a FETCH response")
            value = re.sub(rb"\\(.)", rb"\1", quoted.group(1))
            pos = quoted.end()
        elif first == 0x28:  # a parenthesised list: FLAGS, MODSEQ, or one we pass on
            close = _matching_paren(text, pos)
            value = text[pos + 1:close]
            pos = close + 1
            if name in (b"FLAGS", b"MODSEQ"):
                value = tuple(value.split())
        else:
            atom = _ATOM.match(text, pos)
            value = atom.group(0) if atom else b""
            pos = atom.end() if atom else pos + 1
            if value.upper() == b"NIL":
                value = None
        if name in (b"UID", b"RFC822.SIZE"):
            value = int(value)
        elif name == b"MODSEQ":
            value = tuple(int(v) for v in value)
        elif name == b"INTERNALDATE":
            value = internaldate(value)
        out[name] = value
        while pos < end and text[pos] == 0x20:
            pos += 1
    return out


def _matching_paren(text: bytes, start: int) -> int:
    depth = 0
    pos = start
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == 0x28:
            depth += 1
        elif char == 0x29:
            depth -= 1
            if depth == 0:
                return pos
        elif char == 0x22:
            quoted = _QUOTED.match(text, pos)
            if quoted is not None:
                pos = quoted.end()
                continue
        pos += 1
    raise imaplib.IMAP4.error("unbalanced parentheses in a FETCH response")


def internaldate(value: bytes | None) -> datetime | None:
    """`17-Jul-1996 02:44:25 -0700` -> an aware datetime (UTC), None if unreadable."""
    match = _INTERNALDATE.match(value or b"")
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    number = _MONTHS.get(month.upper())
    if number is None:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        moment = datetime(int(year), number, int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError:
        return None
    return moment - offset if sign == b"+" else moment + offset


def parse_list_status(lines: Sequence[Any], encoding: str) -> dict[str, FolderStatus]:
    """`* STATUS name (MESSAGES n UIDNEXT n ...)` lines -> {wire name: status}."""
    out: dict[str, FolderStatus] = {}
    for line in lines:
        if line is None:
            continue
        try:
            parsed = parse_response([line] if isinstance(line, bytes) else list(line))
        except Exception:  # noqa: BLE001, S112 - unreadable status: the folder gets a SELECT
            continue
        if len(parsed) < 2 or not isinstance(parsed[-1], tuple):
            continue
        name = parsed[0]
        wire = name.decode(encoding, "replace") if isinstance(name, bytes) else str(name)
        items = parsed[-1]
        values = {items[i].upper(): items[i + 1] for i in range(0, len(items) - 1, 2)
                  if isinstance(items[i], bytes)}
        if b"UIDVALIDITY" not in values or b"UIDNEXT" not in values:
            continue
        out[wire] = FolderStatus(
            uidvalidity=int(values[b"UIDVALIDITY"]),
            uidnext=int(values[b"UIDNEXT"]),
            highestmodseq=int(values[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in values
            else None,
            messages=int(values.get(b"MESSAGES", 0)),
        )
    return out


def chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def modseq_of(item: Mapping[bytes, Any]) -> int | None:
    value = item.get(b"MODSEQ")
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    return int(value) if value is not None else None


def aware(value: object) -> datetime | None:
    """INTERNALDATE in UTC: imapclient's FixedOffset zone neither pickles nor compares
    cheaply, and the instant is what matters."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return None


def flag_records(lines: list[Any]) -> list[FlagRecord]:
    if not lines:
        return []
    return [
        FlagRecord(uid, decode_flags(item.get(b"FLAGS", ())), modseq_of(item))
        for uid, item in parse_fetch_response(lines, False, True).items()
        if b"FLAGS" in item
    ]


def idle_event(response: Any) -> IdleEvent:
    if isinstance(response, tuple) and len(response) >= 2:
        first, second = response[0], response[1]
        if isinstance(first, int) and isinstance(second, bytes):
            kind = second.upper()
            if kind == b"EXISTS":
                return IdleEvent("exists", first)
            if kind == b"EXPUNGE":
                return IdleEvent("expunge", first)
            if kind == b"FETCH":
                return IdleEvent("fetch", first)
        if isinstance(first, bytes) and first.upper() == b"VANISHED":  # quirk 2
            return IdleEvent("expunge", 0)
    return IdleEvent("other", 0)


def check(typ: str, data: list[Any], what: str) -> None:
    if typ == "OK":
        return
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
    if any(code in text.upper() for code in TEMPORARY_CODES):
        raise TemporaryServerError(f"The server refused {what} for now ({text}).",
                                   server_text=text)
    raise PermanentServerError(f"The server refused {what} ({text}).", server_text=text)


def map_error(exc: BaseException, endpoint: ServerEndpoint, what: str = "") -> ProtocolError:
    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, CapabilityError):
        return MissingCapability(f"{endpoint.where} does not support {what or 'this'}.",
                                 capability=what)
    if isinstance(exc, imaplib.IMAP4.abort):
        return ConnectionLost(f"The connection to {endpoint.where} was lost during "
                              f"{what or 'a command'}.", server_text=str(exc)[:200])
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        if any(code in text.upper() for code in TEMPORARY_CODES):
            return TemporaryServerError(f"The server refused {what} for now ({text}).",
                                        server_text=text[:200])
        return PermanentServerError(f"The server refused {what} ({text[:200]}).",
                                    server_text=text[:200])
    if isinstance(exc, socket.timeout | TimeoutError):
        return map_exception(exc, host=endpoint.host, port=endpoint.port,
                             timeout=endpoint.timeout)
    return map_exception(exc, host=endpoint.host, port=endpoint.port)
