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
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
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
    """One UID FETCH; yields (uid, fields) per response as it is read off the wire."""
    args = ["FETCH", uids, f"({items})"] + ([modifiers] if modifiers else [])
    done = False
    imap.untagged_responses.pop("FETCH", None)
    tag = imap._command("UID", *args)
    try:
        while not done:
            imap._get_response()
            done = imap.tagged_commands.get(tag) is not None
            pending = imap.untagged_responses.pop("FETCH", None)
            if pending:
                yield from parse_fetch_response(pending, False, True).items()
            if "BYE" in imap.untagged_responses:
                raise ConnectionLost(f"{where} closed the session during FETCH.",
                                     server_text=str(imap.untagged_responses["BYE"][-1])[:200])
    except GeneratorExit:
        # The caller stopped early (next() on the stream): read the rest of the answer
        # away so the connection stays usable for the next command.
        while imap.tagged_commands.get(tag) is None:
            imap._get_response()
            imap.untagged_responses.pop("FETCH", None)
        imap.tagged_commands.pop(tag, None)
        raise
    except BaseException:
        on_failure()  # failed mid-response: the stream position is lost
        raise
    typ, data = imap.tagged_commands.pop(tag)
    check(typ, data, "FETCH")
    for code in ("VANISHED", "EXPUNGE", "EXISTS", "RECENT"):
        imap.untagged_responses.pop(code, None)


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
