"""A typed POP3 client over poplib: plain, STLS or POP3S, verified certificates,
timeouts, USER/PASS or APOP, frozen dataclasses out and our own errors raised.

Server quirks (each has a test in tests/protocols/test_pop3.py):

1. Lines longer than poplib's 2048-byte `_MAXLINE` are common in real mail (unwrapped
   HTML, long base64); poplib raises `error_proto('line too long')`. Our subclass reads
   lines up to `max_line` (16 MiB by default), without patching the module global.
2. Servers without UIDL (or without CAPA at all) exist. `uidl()` then derives an identity
   from a SHA-256 of the message's headers (`TOP n 0`) and says so with
   `synthetic=True`; the status line for the account should say it.
3. Some mbox-based servers add `Status:`/`X-Status:`/`X-UIDL:` headers once a message
   was read, which would change a header hash: those headers are left out of it.
4. Lines starting with "." are dot-stuffed on the wire; RETR and TOP undo it, so the
   bytes match what the server stores. Both read the message in blocks
   (pop3_multiline.py), not poplib's line at a time, and stop at `max_message` bytes.
5. DELE is only final at QUIT: leaving the `with` block because of an exception closes
   the connection without QUIT, so the server keeps every message (RFC 1939 section 6).
6. `retr_many` pipelines its RETRs (RFC 2449 PIPELINING) when the server offers it, so
   the server sends the next message while this one is stored; one at a time otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import poplib
import re
from collections import deque
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

from webmail.protocols import sasl
from webmail.protocols.errors import (
    AuthenticationFailed,
    ConnectionLost,
    MissingCapability,
    PermanentServerError,
    ProtocolError,
    ProtocolViolation,
    TemporaryServerError,
    map_exception,
)
from webmail.protocols.pop3_multiline import EndOfStream, TooLong, read_multiline
from webmail.protocols.tls import ServerEndpoint

MAX_LINE = 1024 * 1024  # one line of a status answer or listing; beyond it, hostile
# One message; beyond this the server is hostile (or the mail is one nobody can read
# in a browser). The sync holds one message in memory at a time.
MAX_MESSAGE = 256 * 1024 * 1024
# poplib reads through an 8 KB buffer; a 30 KB message then takes four reads.
READ_BUFFER = 256 * 1024
# RETRs sent ahead of the answer being read (PIPELINING): enough for the server to keep
# sending while a batch is handed to the parser, few enough to stop quickly.
PIPELINE_DEPTH = 16
CRLF = b"\r\n"
# Headers some servers add or change after a message was read (quirk 3).
VOLATILE_HEADERS = frozenset({
    b"status", b"x-status", b"x-uidl", b"x-keywords", b"x-mozilla-status",
    b"x-mozilla-status2", b"content-length", b"lines",
})
TEMPORARY_CODES = ("[SYS/TEMP]", "[IN-USE]", "[LOGIN-DELAY]")


@dataclass(frozen=True)
class Pop3Stat:
    count: int
    size: int


@dataclass(frozen=True)
class Pop3Listing:
    number: int
    size: int


@dataclass(frozen=True)
class Pop3Uid:
    number: int
    uid: str


@dataclass(frozen=True)
class Pop3UidList:
    entries: tuple[Pop3Uid, ...]
    synthetic: bool  # True when the server has no UIDL and the ids are header hashes

    def by_uid(self) -> dict[str, int]:
        return {entry.uid: entry.number for entry in self.entries}


class _LongLines:
    """poplib's line reader with a configurable limit instead of the 2048 global."""

    max_line: int = MAX_LINE
    file: Any

    def _getline(self) -> tuple[bytes, int]:
        line: bytes = self.file.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == CRLF:
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3SSL(_LongLines, poplib.POP3_SSL):
    pass


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def header_identity(headers: bytes) -> str:
    """A stable id for a message from its header block (servers without UIDL)."""
    digest = hashlib.sha256()
    keep = True
    for raw_line in headers.split(b"\n"):
        line = raw_line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                digest.update(line + b"\n")
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = name not in VOLATILE_HEADERS
        if keep:
            digest.update(line + b"\n")
    return "sha256:" + digest.hexdigest()


class Pop3Client:
    """One POP3 session. No network work until connect() (or `with`)."""

    def __init__(self, endpoint: ServerEndpoint, *, use_apop: bool = False,
                 max_line: int = MAX_LINE, max_message: int = MAX_MESSAGE) -> None:
        self.endpoint = endpoint
        self.use_apop = use_apop
        self.max_line = max_line
        self.max_message = max_message
        self.greeting = ""
        self._conn: poplib.POP3 | None = None
        self._reader: io.BufferedReader | None = None

    # -- session -----------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.connect()
        try:
            self.login()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.quit()
        else:
            # No QUIT: the server discards this session's DELEs (quirk 5).
            self.close()

    def connect(self) -> None:
        ep = self.endpoint
        try:
            conn: poplib.POP3
            if ep.security == "tls":
                conn = _POP3SSL(ep.host, ep.port, timeout=ep.timeout, context=ep.ssl_context())
            else:
                conn = _POP3(ep.host, ep.port, timeout=ep.timeout)
            conn.max_line = self.max_line  # type: ignore[attr-defined]
            self._conn = conn
            self.greeting = _text(conn.getwelcome())
            if ep.security == "starttls":
                if "STLS" not in self._capa():
                    raise MissingCapability(
                        f"The POP3 server at {ep.where} does not offer STLS (STARTTLS). "
                        "Choose TLS or another port.",
                        capability="STLS",
                    )
                conn.stls(ep.ssl_context())
            # Nothing is buffered now (the server waits for a command): a larger buffer
            # lets read_multiline take a message in one or two reads.
            self._reader = cast(io.BufferedReader,
                                conn.sock.makefile("rb", buffering=READ_BUFFER))
            conn.file = self._reader
        except Exception as exc:
            self.close()
            raise self._map(exc, during="connect") from exc

    def login(self) -> None:
        ep = self.endpoint
        conn = self._require()
        try:
            if self.use_apop:
                if not re.search(rb"<.*>", conn.getwelcome()):
                    raise MissingCapability(
                        f"The POP3 server at {ep.where} does not support APOP.",
                        capability="APOP",
                    )
                conn.apop(ep.username, ep.password)
            elif ep.auth == "oauth2":
                self._bearer_login(conn)
            else:
                conn.user(ep.username)
                conn.pass_(ep.password)
        except Exception as exc:
            raise self._map(exc, during="login") from exc

    def _bearer_login(self, conn: poplib.POP3) -> None:
        """AUTH (RFC 5034) with an initial response; a "+ " challenge is the server's
        error report, answered with an empty line to get the final -ERR."""
        ep = self.endpoint
        mechanism = sasl.choose(set(self._capa().get("SASL", [])))
        response = sasl.initial_response(mechanism, ep.username, ep.password)
        conn._putcmd(f"AUTH {mechanism} {response}")  # type: ignore[attr-defined]
        reply: bytes = conn._getresp()  # type: ignore[attr-defined]
        if not reply.startswith(b"+OK"):
            conn._putcmd("")  # type: ignore[attr-defined]
            conn._getresp()  # type: ignore[attr-defined]  # raises error_proto(-ERR)
            raise poplib.error_proto(b"-ERR " + reply)

    def quit(self) -> None:
        """QUIT: the server now deletes what was marked with DELE."""
        conn = self._conn
        if conn is None:
            return
        try:
            conn.quit()
        except Exception as exc:
            raise self._map(exc, during="QUIT") from exc
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection without QUIT (DELEs of this session are discarded)."""
        conn, self._conn = self._conn, None
        self._reader = None
        if conn is None:
            return
        for closer in (getattr(conn, "file", None), getattr(conn, "sock", None)):
            if closer is not None:
                with contextlib.suppress(OSError):
                    closer.close()

    # -- commands ----------------------------------------------------------------------
    def capabilities(self) -> frozenset[str]:
        """CAPA keywords (upper case); empty when the server has no CAPA."""
        self._require()
        return frozenset(self._capa())

    def stat(self) -> Pop3Stat:
        count, size = self._call("STAT", lambda c: c.stat())
        return Pop3Stat(count=int(count), size=int(size))

    def list_messages(self) -> tuple[Pop3Listing, ...]:
        """LIST: message numbers and sizes."""
        _, lines, _ = self._call("LIST", lambda c: c.list())
        out = []
        for line in lines:
            number, size = line.split()[:2]
            out.append(Pop3Listing(number=int(number), size=int(size)))
        return tuple(out)

    def uidl(self) -> Pop3UidList:
        """Unique ids of every message; header hashes if the server has no UIDL."""
        conn = self._require()
        try:
            _, lines, _ = conn.uidl()
        except poplib.error_proto as exc:
            if str(exc).startswith(("line too long", "-ERR EOF")):
                raise self._map(exc, during="UIDL") from exc
            return self._synthetic_uids()
        except Exception as exc:
            raise self._map(exc, during="UIDL") from exc
        entries = []
        for line in lines:
            number, uid = line.split(None, 1)
            entries.append(Pop3Uid(number=int(number), uid=_text(uid).strip()))
        return Pop3UidList(entries=tuple(entries), synthetic=False)

    def _synthetic_uids(self) -> Pop3UidList:
        entries = []
        seen: dict[str, int] = {}
        for listing in self.list_messages():
            try:
                headers = self.top(listing.number, 0)
            except PermanentServerError as exc:
                raise MissingCapability(
                    f"The POP3 server at {self.endpoint.where} supports neither UIDL nor "
                    "TOP, so messages cannot be told apart safely.",
                    capability="UIDL",
                ) from exc
            uid = header_identity(headers)
            # Identical headers: number the copies so each id stays unique in a listing.
            seen[uid] = seen.get(uid, 0) + 1
            if seen[uid] > 1:
                uid = f"{uid}#{seen[uid]}"
            entries.append(Pop3Uid(number=listing.number, uid=uid))
        return Pop3UidList(entries=tuple(entries), synthetic=True)

    def retr(self, number: int) -> bytes:
        """The whole message, dot-unstuffed, as the server stores it."""
        return self._long_command(f"RETR {int(number)}")

    def retr_many(self, numbers: Iterable[int]) -> Generator[tuple[int, bytes], None, None]:
        """(number, message) for each number in order, RETRs pipelined when offered.

        An error closes the connection (answers already asked for would be misread);
        a caller that stops early gets the asked-for answers read and dropped, so the
        session goes on (QUIT, DELE).
        """
        self._require()
        depth = PIPELINE_DEPTH if "PIPELINING" in self._capa() else 1
        todo = iter(numbers)
        pending: deque[int] = deque()
        try:
            while True:
                if len(pending) <= depth // 2:
                    # Topped up half a window at a time, in one write: each send gives up
                    # the GIL, and taking it back behind the sync's other threads cost
                    # more than the send (py-spy: a third of this thread's samples).
                    more = list(itertools.islice(todo, depth - len(pending)))
                    if more:
                        self._send_all([f"RETR {int(number)}" for number in more])
                        pending.extend(more)
                if not pending:
                    return
                try:
                    raw = self._long_answer("RETR")
                except ProtocolError:
                    if len(pending) > 1:
                        self.close()  # the answers asked for after it would be misread
                    raise
                yield pending.popleft(), raw
        except GeneratorExit:
            try:
                for _ in pending:
                    self._long_answer("RETR")
            except ProtocolError:
                self.close()
            raise

    def top(self, number: int, lines: int = 0) -> bytes:
        """The headers, the blank line and the first `lines` body lines."""
        return self._long_command(f"TOP {int(number)} {int(lines)}")

    def dele(self, number: int) -> None:
        self._call("DELE", lambda c: c.dele(number))

    def rset(self) -> None:
        self._call("RSET", lambda c: c.rset())

    def noop(self) -> None:
        self._call("NOOP", lambda c: c.noop())

    # -- internals ---------------------------------------------------------------------
    def _require(self) -> poplib.POP3:
        if self._conn is None:
            raise ConnectionLost(f"Not connected to {self.endpoint.where}.")
        return self._conn

    def _capa(self) -> dict[str, list[str]]:
        conn = self._require()
        try:
            caps: dict[str, list[str]] = conn.capa()
        except poplib.error_proto as exc:
            if str(exc).startswith(("line too long", "-ERR EOF")):
                raise
            return {}
        return {key.upper(): value for key, value in caps.items()}

    def _call(self, during: str, fn: Any) -> Any:
        conn = self._require()
        try:
            return fn(conn)
        except Exception as exc:
            raise self._map(exc, during=during) from exc

    def _long_command(self, command: str) -> bytes:
        self._send(command)
        return self._long_answer(command.split()[0])

    def _send(self, command: str) -> None:
        self._call(command.split()[0], lambda c: c._putcmd(command))

    def _send_all(self, commands: list[str]) -> None:
        """Several commands in one write (PIPELINING); ours only, no CR or LF in them."""
        data = "".join(f"{command}\r\n" for command in commands).encode("ascii")
        self._call(commands[0].split()[0], lambda c: c.sock.sendall(data))

    def _long_answer(self, during: str) -> bytes:
        """The body of a multi-line answer after its status line (-ERR raises)."""
        conn = self._require()
        try:
            conn._getresp()  # type: ignore[attr-defined]  # raises error_proto on -ERR
            if self._reader is None:
                raise ConnectionLost(f"Not connected to {self.endpoint.where}.")
            return read_multiline(self._reader, self.max_message)
        except TooLong as exc:
            self.close()
            raise ProtocolViolation(
                f"The POP3 server at {self.endpoint.where} sent a message larger than "
                f"{self.max_message} bytes."
            ) from exc
        except EndOfStream as exc:
            raise self._map(poplib.error_proto("-ERR EOF"), during=during) from exc
        except Exception as exc:
            raise self._map(exc, during=during) from exc

    def _map(self, exc: BaseException, *, during: str) -> ProtocolError:
        ep = self.endpoint
        if isinstance(exc, ProtocolError):
            return exc
        if isinstance(exc, poplib.error_proto):
            text = _text(exc.args[0] if exc.args else exc)
            if text == "line too long":
                return ProtocolViolation(
                    f"The POP3 server at {ep.where} sent a line longer than "
                    f"{self.max_line} bytes."
                )
            if text.startswith("-ERR EOF"):
                self.close()
                return ConnectionLost(f"The POP3 server at {ep.where} closed the connection.")
            if text.startswith("-ERR APOP not supported"):
                return MissingCapability(
                    f"The POP3 server at {ep.where} does not support APOP.", capability="APOP"
                )
            detail = text.removeprefix("-ERR").strip()
            if any(code in text for code in TEMPORARY_CODES):
                return TemporaryServerError(
                    f"The POP3 server at {ep.where} is busy ({detail}); will retry later.",
                    server_text=text,
                )
            if "[SYS/PERM]" in text:
                return PermanentServerError(
                    f"The POP3 server at {ep.where} refused {during} ({detail}).",
                    server_text=text,
                )
            if during == "login":
                return AuthenticationFailed(
                    f"The POP3 server at {ep.where} refused the username or password for "
                    f"“{ep.username}” ({detail}).",
                    server_text=text,
                )
            return PermanentServerError(
                f"The POP3 server at {ep.where} refused {during} ({detail}).", server_text=text
            )
        # A transport error leaves the session in an unknown state: drop it.
        self.close()
        return map_exception(exc, host=ep.host, port=ep.port, timeout=ep.timeout)
