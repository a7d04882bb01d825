"""A fast path to the stdlib's compat32 message tree for well-formed mail.

`email.parser.BytesParser` (the feedparser) reads every line of every part through a
stack of per-line regex checks, and compiles a new regex for every multipart boundary:
on generated mail (bench/generator.py, ~30 KB a message, base64 attachments) that was
half of `parse_message`'s CPU (profiled, bench/README.md). Here each part's header
lines are set as the feedparser's `_parse_headers` sets them (compat32's
header_source_parse) and bodies are cut at boundary lines found with `str.find`, then
the Message objects are built exactly as the feedparser builds them: the same headers,
payload strings, preamble and epilogue, the line ending before a boundary given to the
boundary.

Anything off the common path returns None and the caller parses with the stdlib as
before: a lone CR, a line in the header block that is not a header, a missing or
doubled boundary, a boundary inside another's, message/* parts, multipart/digest, a
multipart without a boundary or with an encoding. tests/parsing/test_split.py checks
the trees are equal on generated, corpus and hostile messages.
"""

from __future__ import annotations

import re

# The feedparser's own header-line pattern, so both agree on where the header block ends.
from email.feedparser import headerRE  # type: ignore[attr-defined]
from email.message import Message
from email.policy import compat32

# Real mail nests a few levels; past this the stdlib (with its own limits) takes over.
MAX_DEPTH = 20
# A CR that does not start a CRLF (one scan; counting CRs and CRLFs took three times as
# long on generated mail: 38 against 12 us a 30 KB message).
_LONE_CR = re.compile(rb"\r(?!\n)")


class _Fallback(Exception):
    """This message needs the stdlib parser."""


def split_message(raw: bytes) -> Message | None:
    """The Message `BytesParser(policy=compat32).parsebytes(raw)` returns, or None when
    this input needs the stdlib parser. Never raises."""
    try:
        # The feedparser ends lines at CR, LF and CRLF; here lines end at LF only.
        if _LONE_CR.search(raw):
            return None
        # As BytesParser does: bytes -> str, 8-bit bytes kept as surrogate escapes.
        text = raw.decode("ascii", "surrogateescape")
        return _entity(text, 0, len(text), (), 0)
    except (_Fallback, Exception, RecursionError):  # noqa: BLE001 - the stdlib decides
        return None


def _entity(text: str, start: int, end: int, enclosing: tuple[str, ...], depth: int
            ) -> Message:
    """One message or part from text[start:end] (a part ends before its boundary line)."""
    if depth > MAX_DEPTH:
        raise _Fallback
    pos = start
    body = -1
    lines: list[str] = []
    while pos < end:
        newline = text.find("\n", pos, end)
        line_end = end if newline < 0 else newline + 1
        line = text[pos:line_end]
        if line == "\r\n" or line == "\n":
            body = line_end
            break
        if not headerRE.match(line):
            raise _Fallback  # the feedparser's MissingHeaderBodySeparatorDefect path
        lines.append(line)
        pos = line_end
    if body < 0:
        raise _Fallback  # headers up to the end: rare, left to the stdlib
    message = _with_headers(lines)
    maintype = message.get_content_maintype()
    if maintype == "message":
        raise _Fallback
    if maintype != "multipart":
        message._payload = text[body:end]  # type: ignore[attr-defined]
        return message
    _multipart(message, text, body, end, enclosing, depth)
    return message


def _with_headers(lines: list[str]) -> Message:
    """A Message with these header lines, as the feedparser's _parse_headers sets them
    (compat32's header_source_parse); lines it would read with a defect (a continuation
    first, an envelope "From " line, an empty name) go to the stdlib. Feeding each part's
    header block to a FeedParser instead was a tenth of a sync's parse (py-spy)."""
    message = Message(policy=compat32)
    source: list[str] = []
    for line in lines:
        if line[0] in " \t":
            if not source:
                raise _Fallback
            source.append(line)
            continue
        if source:
            message.set_raw(*compat32.header_source_parse(source))
        if line.startswith("From ") or line.find(":") <= 0:
            raise _Fallback
        source = [line]
    if source:
        message.set_raw(*compat32.header_source_parse(source))
    return message


def _boundary_kind(rest: str) -> str:
    """What follows "--boundary" on a line: "sep", "close" or "" (not a boundary line),
    as the feedparser's `(--)?[ \\t]*(\\r\\n|\\r|\\n)?$` decides."""
    if rest.startswith("--"):
        return "close" if rest[2:].lstrip(" \t") in ("", "\n", "\r\n") else ""
    return "sep" if rest.lstrip(" \t") in ("", "\n", "\r\n") else ""


def _strip_eol(value: str) -> str:
    """The line ending before a boundary belongs to the boundary (RFC 2046)."""
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n"):
        return value[:-1]
    return value


def _multipart(message: Message, text: str, body: int, end: int,
               enclosing: tuple[str, ...], depth: int) -> None:
    boundary = message.get_boundary()
    if boundary is None or message.get_content_type() == "multipart/digest":
        raise _Fallback  # no boundary: a defect; digest parts default to message/rfc822
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if encoding not in ("7bit", "8bit", "binary"):
        raise _Fallback  # InvalidMultipartContentTransferEncodingDefect
    separator = "--" + boundary
    if any(separator.startswith(outer) or outer.startswith(separator) for outer in enclosing):
        raise _Fallback  # one boundary line could end two levels at once
    lines: list[tuple[int, int, str]] = []  # (line start, line end, kind)
    pos = body
    while True:
        found = text.find(separator, pos, end)
        if found < 0:
            break
        if found != body and text[found - 1] != "\n":
            pos = found + 1
            continue
        newline = text.find("\n", found, end)
        line_end = end if newline < 0 else newline + 1
        kind = _boundary_kind(text[found + len(separator):line_end])
        if not kind:
            pos = found + 1
            continue
        lines.append((found, line_end, kind))
        if kind == "close":
            break
        pos = line_end
    if len(lines) < 2 or lines[0][2] != "sep" or lines[-1][2] != "close":
        raise _Fallback  # no start boundary, no close boundary, or no part
    for (_, first_end, _), (second_start, _, _) in zip(lines, lines[1:], strict=False):
        if first_end == second_start:
            raise _Fallback  # doubled boundary lines: the feedparser skips them its way
    first_start = lines[0][0]
    if first_start > body:
        message.preamble = _strip_eol(text[body:first_start])
    parts: list[Message] = []
    inner = (*enclosing, separator)
    for (_, part_start, _), (part_end, _, _) in zip(lines, lines[1:], strict=False):
        part = _entity(text, part_start, part_end, inner, depth + 1)
        if part.get_content_maintype() == "multipart":
            epilogue = part.epilogue
            part.epilogue = None if epilogue == "" else (
                _strip_eol(epilogue) if epilogue is not None else None)
        else:
            part._payload = _strip_eol(part._payload)  # type: ignore[attr-defined]
        parts.append(part)
    message._payload = parts  # type: ignore[attr-defined]
    message.epilogue = text[lines[-1][1]:end]
