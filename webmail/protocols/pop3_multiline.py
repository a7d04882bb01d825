"""The body of a POP3 multi-line answer (RETR, TOP), read in blocks instead of lines.

poplib reads a message one line at a time in Python: for 30 KB of mail that is ~400
`readline` calls and as many list appends, ~0.4 ms a message, as much CPU as Dovecot
spends sending it (py-spy of a 10,000-message fetch: 17% of all samples). Here the
buffered stream is searched for the terminating "CRLF . CRLF" a buffer at a time, and
dot-stuffing (RFC 1939 section 3) is undone with one replace over the whole message.

The reader consumes exactly up to the terminator, so answers to pipelined commands
that follow stay in the buffer for the next read.
"""

from __future__ import annotations

from typing import Protocol

# A line that is just "." ends the answer. Searching for LF rather than CRLF before it
# also ends a last line that a careless server ended with a bare LF.
TERMINATOR = b"\n.\r\n"
# What the search must look back over when the terminator spans two buffers.
LOOKBACK = len(TERMINATOR) - 1


class TooLong(Exception):
    """The answer grew beyond the caller's limit; the session is unusable after this."""


class EndOfStream(Exception):
    """The server closed the connection before the terminator."""


class PeekableStream(Protocol):
    def peek(self, size: int = ..., /) -> bytes: ...

    def read(self, size: int = ..., /) -> bytes: ...


def read_multiline(stream: PeekableStream, limit: int) -> bytes:
    """The answer's body after its status line, dot-unstuffed, the final "." left out.

    Lines keep the endings the server sent (CRLF). Raises TooLong past `limit` bytes
    and EndOfStream when the connection ends first.
    """
    parts: list[bytes] = []
    size = 0
    # The status line ended a line, so the body starts at a line start: an empty body is
    # just ".\r\n".
    tail = b"\n"
    while True:
        chunk = stream.peek(1)
        if not chunk:
            raise EndOfStream
        # peek gives all that is buffered (answers to later RETRs too, up to the read
        # buffer): searched where it lies, with only its first bytes joined to the tail
        # for a terminator across the boundary, rather than all of it copied onto it.
        at = (tail + chunk[:LOOKBACK]).find(TERMINATOR)
        if at < 0:
            found = chunk.find(TERMINATOR)
            at = found + len(tail) if found >= 0 else -1
        if at >= 0:
            data = stream.read(at + len(TERMINATOR) - len(tail))
            if size + len(data) > limit + 3:
                raise TooLong
            parts.append(data)
            break
        data = stream.read(len(chunk))
        parts.append(data)
        size += len(data)
        if size > limit:
            raise TooLong
        tail = (tail + data[-LOOKBACK:])[-LOOKBACK:]
    body = b"".join(parts)[:-3]  # the ".\r\n" line
    return unstuff(body)


def unstuff(body: bytes) -> bytes:
    """Undo dot-stuffing: a line starting with "." was sent with one more "."."""
    if body.startswith(b".."):
        body = body[1:]
    if b"\n.." in body:
        body = body.replace(b"\n..", b"\n.")
    return body
