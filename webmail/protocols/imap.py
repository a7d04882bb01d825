"""A typed IMAP client over imapclient: none/STARTTLS/TLS with verified certificates,
timeouts, CONDSTORE/QRESYNC, streaming UID FETCH, frozen dataclasses out, our errors.

Server quirks (each has a test in tests/protocols/test_imap_quirks.py):

1. imapclient has no QRESYNC. We send `ENABLE QRESYNC` and `SELECT name (QRESYNC (uv
   modseq))` through imaplib's command machinery and read `VANISHED (EARLIER)` and the
   FETCH responses out of the untagged responses ourselves.
2. Once QRESYNC is enabled, servers report expunges as `VANISHED uid-set` instead of
   `n EXPUNGE` (also during IDLE): both map to an "expunge" IdleEvent.
3. imaplib keeps a whole literal in memory, and collects every untagged response of a
   command until it completes. FETCH therefore reads responses one at a time and yields
   each message as it arrives; messages above HUGE_MESSAGE are fetched in
   `BODY.PEEK[]<offset.length>` chunks.
4. COPYUID/APPENDUID arrive either in the tagged OK (COPY, APPEND) or in an untagged
   `* OK [COPYUID ...]` before the expunges (MOVE). imaplib files both under the code's
   name, so we clear that entry before the command and read it after.
5. `\\Recent` is session-bound (the first session to see a message gets it): it is
   dropped from every flag set, or two syncs would disagree about the same message.
6. Without UIDPLUS, `EXPUNGE` removes every `\\Deleted` message, including ones another
   client marked: `expunge()` refuses, and the MOVE fallback leaves the copy flagged
   `\\Deleted` rather than expunge messages it was not asked to.
7. Folder names are modified UTF-7 on the wire unless UTF8=ACCEPT is enabled; imapclient's
   automatic folder encoding is off, so `remote_name` is always exactly the wire form.
8. `UID SEARCH UID n:*` matches the highest message even when n is above every UID
   ("*" is the largest UID in use, and n:* is the same as *:n): callers filter u >= n.
9. LIST-STATUS (RFC 5819) gives every folder's UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ in the
   LIST round trip; those STATUS lines are untagged and read apart from the LIST lines.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Self

from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError
from imapclient.imapclient import _quote

from webmail.protocols import sasl
from webmail.protocols.errors import (
    AuthenticationFailed,
    MissingCapability,
    ProtocolError,
)
from webmail.protocols.imap_types import (
    UNSELECTABLE,
    FlagRecord,
    FolderStatus,
    HeaderRecord,
    IdleEvent,
    Quota,
    RemoteFolder,
    SelectInfo,
    assign_roles,
    decode_flags,
    folder_role,
    parse_appenduid,
    parse_copyuid,
    uid_set,
)
from webmail.protocols.imap_wire import (
    aware,
    check,
    chunks,
    idle_event,
    map_error,
    modseq_of,
    parse_list_status,
    raw_select,
    stream_fetch,
)
from webmail.protocols.tls import ServerEndpoint

__all__ = [
    "FlagRecord", "FolderStatus", "HeaderRecord", "IdleEvent", "ImapClient", "Quota",
    "RemoteFolder", "SelectInfo",
]

# UIDs per FETCH command: keeps the command line short (servers cap it near 8 KB-64 KB)
# while one command still covers enough messages that round trips do not matter.
UIDS_PER_COMMAND = 1000
# Above this a message is fetched in chunks, so imaplib never holds one giant literal.
HUGE_MESSAGE = 16 * 1024 * 1024
CHUNK = 4 * 1024 * 1024


def _bearer_login(conn: IMAPClient, endpoint: ServerEndpoint) -> None:
    offered = {c.decode("ascii", "replace").upper() for c in conn.capabilities()}
    mechanisms = {c.removeprefix("AUTH=") for c in offered if c.startswith("AUTH=")}
    if sasl.choose(mechanisms) == sasl.OAUTHBEARER:
        conn.oauthbearer_login(endpoint.username, endpoint.password)
    else:
        conn.oauth2_login(endpoint.username, endpoint.password)


class ImapClient:
    """One logged-in IMAP connection. Not thread-safe; one command at a time."""

    def __init__(self, conn: IMAPClient, endpoint: ServerEndpoint) -> None:
        self._c = conn
        self._imap: Any = conn._imap  # imaplib.IMAP4 underneath
        self.endpoint = endpoint
        self.capabilities: frozenset[str] = frozenset()
        self.enabled: frozenset[str] = frozenset()
        self.selected: str | None = None

    # -- connection -------------------------------------------------------------------
    @classmethod
    def connect(cls, endpoint: ServerEndpoint) -> ImapClient:
        context = endpoint.ssl_context() if endpoint.security != "none" else None
        try:
            conn = IMAPClient(
                endpoint.host, endpoint.port, ssl=endpoint.security == "tls",
                ssl_context=context, timeout=endpoint.timeout,
            )
        except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
            raise map_error(exc, endpoint) from exc
        conn.folder_encode = False  # quirk 7
        conn.normalise_times = False  # keep INTERNALDATE's zone
        client = cls(conn, endpoint)
        try:
            with client._guard("login"):
                if endpoint.security == "starttls":
                    conn.starttls(context)
                try:
                    if endpoint.auth == "oauth2":
                        _bearer_login(conn, endpoint)
                    else:
                        conn.login(endpoint.username, endpoint.password)
                except LoginError as exc:
                    raise AuthenticationFailed(
                        f"{endpoint.where} refused the username or password.",
                        server_text=str(exc)[:200],
                    ) from None
                conn._cached_capabilities = None  # the post-login list is the real one
                client.capabilities = frozenset(
                    c.decode("ascii", "replace").upper() for c in conn.capabilities()
                )
                client._enable()
        except BaseException:
            client._close_quietly()
            raise
        return client

    def _enable(self) -> None:
        wanted = [c for c in ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT") if self.has(c)]
        if not wanted or not self.has("ENABLE"):
            return
        enabled = {e.decode().upper() for e in self._c.enable(*wanted)}
        self.enabled = frozenset(enabled)
        if "UTF8=ACCEPT" in enabled:
            self._imap._encoding = "utf-8"  # names and quoted strings go out as UTF-8

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.enabled or "QRESYNC" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def logout(self) -> None:
        try:
            self._c.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            self._close_quietly()

    def close(self) -> None:
        """Drop the connection without a LOGOUT (after an error mid-command)."""
        self._close_quietly()

    def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._c.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.logout()

    # -- errors -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except ProtocolError:
            raise
        except (OSError, ssl.SSLError, imaplib.IMAP4.error, EOFError) as exc:
            raise map_error(exc, self.endpoint, what) from exc

    # -- folders ----------------------------------------------------------------------
    def encode_name(self, name: str) -> str:
        if "UTF8=ACCEPT" in self.enabled:
            return name
        encoded: bytes = imap_utf7.encode(name)
        return encoded.decode("ascii")

    def decode_name(self, wire: str) -> str:
        if "UTF8=ACCEPT" in self.enabled:
            return wire
        decoded: str = imap_utf7.decode(wire.encode("ascii", "replace"))
        return decoded

    def list_folders(self) -> list[RemoteFolder]:
        """Every folder, with its role and, when the server has LIST-STATUS, its state."""
        options = []
        if self.has("SPECIAL-USE") and self.has("LIST-EXTENDED"):
            options.append("SPECIAL-USE")
        if self.has("LIST-STATUS"):
            wanted = "MESSAGES UIDNEXT UIDVALIDITY" + (
                " HIGHESTMODSEQ" if self.has("CONDSTORE") else "")
            options.append(f"STATUS ({wanted})")
        args = ['""', '"*"'] + (["RETURN", f"({' '.join(options)})"] if options else [])
        with self._guard("LIST"):
            self._imap.untagged_responses.pop("STATUS", None)
            typ, data = self._imap._simple_command("LIST", *args)
            check(typ, data, "LIST")
            statuses = parse_list_status(self._imap.untagged_responses.pop("STATUS", []),
                                         self._imap._encoding)
            typ, data = self._imap._untagged_response(typ, data, "LIST")
            entries = self._c._proc_folder_list(data)
        folders = []
        for flags, delimiter, raw_name in entries:
            wire = raw_name.decode(self._imap._encoding, "replace") \
                if isinstance(raw_name, bytes) else str(raw_name)
            attributes = [f.decode("ascii", "replace") if isinstance(f, bytes) else str(f)
                          for f in flags]
            delim = delimiter.decode("ascii") if isinstance(delimiter, bytes) else (
                delimiter or "")
            name = "INBOX" if wire.upper() == "INBOX" else self.decode_name(wire)
            folders.append(RemoteFolder(
                name=name, remote_name=wire, delimiter=delim,
                role=folder_role(name, delim, attributes),
                selectable=not any(a.lower() in UNSELECTABLE for a in attributes),
                status=statuses.get(wire),
            ))
        return assign_roles(folders)

    def create_folder(self, remote_name: str) -> None:
        with self._guard("CREATE"):
            self._c.create_folder(remote_name)
            with contextlib.suppress(imaplib.IMAP4.error):
                self._c.subscribe_folder(remote_name)

    def rename_folder(self, old: str, new: str) -> None:
        with self._guard("RENAME"):
            self._c.rename_folder(old, new)
            with contextlib.suppress(imaplib.IMAP4.error):
                self._c.subscribe_folder(new)

    def delete_folder(self, remote_name: str) -> None:
        with self._guard("DELETE"):
            if self.selected == remote_name:
                self._unselect()
            with contextlib.suppress(imaplib.IMAP4.error):
                self._c.unsubscribe_folder(remote_name)
            self._c.delete_folder(remote_name)

    def _unselect(self) -> None:
        if self.has("UNSELECT"):
            self._c.unselect_folder()
        else:
            self._c.close_folder()  # no \Deleted is left behind by us, so CLOSE is safe
        self.selected = None

    def quota(self, remote_name: str = "INBOX") -> Quota | None:
        if not self.has("QUOTA"):
            return None
        with self._guard("GETQUOTAROOT"):
            _roots, quotas = self._c.get_quota_root(_quote(remote_name))
        for quota in quotas:
            if quota.resource.upper() == "STORAGE":  # RFC 2087: units of 1024 octets
                return Quota(used_bytes=int(quota.usage) * 1024,
                             limit_bytes=int(quota.limit) * 1024)
        return None

    # -- selecting (with the QRESYNC layer, quirk 1) -----------------------------------
    def select(self, remote_name: str, *, readonly: bool = False,
               qresync: tuple[int, int] | None = None) -> SelectInfo:
        command = "EXAMINE" if readonly else "SELECT"
        args = [_quote(remote_name)]
        if qresync is not None and self.qresync:
            args.append(f"(QRESYNC ({int(qresync[0])} {int(qresync[1])}))")
        with self._guard(command):
            self.selected = None
            untagged, vanished, changed = raw_select(self._imap, command, args)
            self.selected = remote_name
            response = self._c._process_select_response(untagged)
        return SelectInfo(
            uidvalidity=int(response.get(b"UIDVALIDITY", 0)),
            uidnext=int(response.get(b"UIDNEXT", 0)),
            highestmodseq=int(response[b"HIGHESTMODSEQ"]) if b"HIGHESTMODSEQ" in response
            else None,
            exists=int(response.get(b"EXISTS", 0)),
            vanished=tuple(vanished),
            changed=tuple(changed),
        )

    # -- reading ----------------------------------------------------------------------
    def search_uids(self, criteria: str = "ALL") -> list[int]:
        with self._guard("SEARCH"):
            typ, data = self._imap.uid("SEARCH", criteria)
            check(typ, data, "SEARCH")
        out: list[int] = []
        for line in data:
            if line:
                out.extend(int(x) for x in line.split() if x.isdigit())
        return sorted(out)

    def fetch_headers(self, uids: Sequence[int], *,
                      fields: Sequence[str] | None = None) -> Iterator[HeaderRecord]:
        """Flags, size, INTERNALDATE and the header block of each message.

        With `fields`, only those header fields come back (BODY.PEEK[HEADER.FIELDS
        (...)]): the message list needs a handful of the 20-40 headers real mail has.
        """
        section = "HEADER" if not fields else \
            f"HEADER.FIELDS ({' '.join(f.upper() for f in fields)})"
        items = f"UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[{section}]" + (
            " MODSEQ" if self.condstore else "")
        for chunk in chunks(uids, UIDS_PER_COMMAND):
            for uid, item in self._stream_fetch(uid_set(chunk), items):
                header = next((v for k, v in item.items() if k.startswith(b"BODY[")), None)
                if header is None:
                    continue  # an unsolicited FETCH (flags changed elsewhere)
                yield HeaderRecord(
                    uid=uid,
                    flags=decode_flags(item.get(b"FLAGS", ())),
                    size=int(item.get(b"RFC822.SIZE", 0)),
                    internal_date=aware(item.get(b"INTERNALDATE")),
                    modseq=modseq_of(item),
                    header_bytes=bytes(header),
                )

    def message_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for chunk in chunks(uids, UIDS_PER_COMMAND):
            for uid, item in self._stream_fetch(uid_set(chunk), "UID RFC822.SIZE"):
                if b"RFC822.SIZE" in item:
                    sizes[uid] = int(item[b"RFC822.SIZE"])
        return sizes

    def fetch_messages(self, uids: Sequence[int], *,
                       sizes: Mapping[int, int] | None = None) -> Iterator[tuple[int, bytes]]:
        """Whole messages, streamed one at a time in the server's order (quirk 3).

        UIDs that no longer exist are skipped silently. Pass `sizes` when known (the
        headers phase has them) to save a round trip.
        """
        if not uids:
            return
        if sizes is None:
            sizes = self.message_sizes(uids)
        small = [u for u in uids if sizes.get(u, 0) <= HUGE_MESSAGE]
        huge = [u for u in uids if sizes.get(u, 0) > HUGE_MESSAGE]
        for chunk in chunks(small, UIDS_PER_COMMAND):
            for uid, item in self._stream_fetch(uid_set(chunk), "UID BODY.PEEK[]"):
                body = item.get(b"BODY[]")
                if body is not None:
                    yield uid, bytes(body)
        for uid in huge:
            raw = self._fetch_chunked(uid)
            if raw is not None:
                yield uid, raw

    def _fetch_chunked(self, uid: int) -> bytes | None:
        parts: list[bytes] = []
        offset = 0
        while True:
            got: bytes | None = None
            for found, item in self._stream_fetch(str(uid), f"UID BODY.PEEK[]<{offset}.{CHUNK}>"):
                if found == uid:
                    got = next((bytes(v) for k, v in item.items()
                                if k.startswith(b"BODY[]") and v is not None), got)
            if got is None:
                return None if offset == 0 else b"".join(parts)
            parts.append(got)
            offset += len(got)
            if len(got) < CHUNK:
                return b"".join(parts)

    def fetch_flags(self, uids: str | Sequence[int] = "1:*", *,
                    changedsince: int | None = None) -> list[FlagRecord]:
        if not isinstance(uids, str):
            if not uids:
                return []
            uids = uid_set(uids)
        items = "UID FLAGS" + (" MODSEQ" if self.condstore else "")
        modifiers = f"(CHANGEDSINCE {int(changedsince)})" if changedsince is not None \
            and self.condstore else None
        return [
            FlagRecord(uid, decode_flags(item.get(b"FLAGS", ())), modseq_of(item))
            for uid, item in self._stream_fetch(uids, items, modifiers)
            if b"FLAGS" in item
        ]

    def _stream_fetch(self, uids: str, items: str, modifiers: str | None = None
                      ) -> Iterator[tuple[int, dict[bytes, Any]]]:
        with self._guard("FETCH"):
            yield from stream_fetch(self._imap, uids, items, modifiers, self._close_quietly,
                                    self.endpoint.where)

    # -- writing ----------------------------------------------------------------------
    def set_flags(self, uids: Sequence[int], *, add: Iterable[str] = (),
                  remove: Iterable[str] = ()) -> None:
        if not uids:
            return
        with self._guard("STORE"):
            added, removed = list(add), list(remove)
            if added:
                self._c.add_flags(uid_set(uids), added, silent=True)
            if removed:
                self._c.remove_flags(uid_set(uids), removed, silent=True)

    def copy(self, uids: Sequence[int], dest_remote_name: str) -> dict[int, int]:
        if not uids:
            return {}
        with self._guard("COPY"):
            self._imap.untagged_responses.pop("COPYUID", None)
            self._c.copy(uid_set(uids), dest_remote_name)
            return self._take_copyuid()

    def move(self, uids: Sequence[int], dest_remote_name: str) -> dict[int, int]:
        if not uids:
            return {}
        if not self.has("MOVE"):
            mapping = self.copy(uids, dest_remote_name)
            self.set_flags(uids, add=["\\Deleted"])
            if self.has("UIDPLUS"):
                self.expunge(uids)
            return mapping
        with self._guard("MOVE"):
            self._imap.untagged_responses.pop("COPYUID", None)
            self._c.move(uid_set(uids), dest_remote_name)
            mapping = self._take_copyuid()
            for code in ("VANISHED", "EXPUNGE"):
                self._imap.untagged_responses.pop(code, None)
            return mapping

    def _take_copyuid(self) -> dict[int, int]:
        mapping: dict[int, int] = {}
        for data in self._imap.untagged_responses.pop("COPYUID", []):
            mapping.update(parse_copyuid(data))
        return mapping

    def expunge(self, uids: Sequence[int]) -> None:
        if not uids:
            return
        if not self.has("UIDPLUS"):
            raise MissingCapability(
                f"{self.endpoint.where} cannot expunge single messages (no UIDPLUS).",
                capability="UIDPLUS")
        with self._guard("EXPUNGE"):
            self._c.uid_expunge(uid_set(uids))
            for code in ("VANISHED", "EXPUNGE"):
                self._imap.untagged_responses.pop(code, None)

    def append(self, remote_name: str, raw: bytes, *, flags: Iterable[str] = (),
               date: datetime | None = None) -> tuple[int, int] | None:
        with self._guard("APPEND"):
            self._imap.untagged_responses.pop("APPENDUID", None)
            text = self._c.append(remote_name, raw, flags=tuple(flags), msg_time=date)
            codes = self._imap.untagged_responses.pop("APPENDUID", [])
        found = parse_appenduid(text if isinstance(text, bytes) else None)
        if found is None and codes:
            found = parse_appenduid(b"APPENDUID " + codes[-1])
        return found

    # -- IDLE -------------------------------------------------------------------------
    def idle_start(self) -> None:
        with self._guard("IDLE"):
            self._c.idle()

    def idle_check(self, timeout: float) -> list[IdleEvent]:
        with self._guard("IDLE"):
            responses = self._c.idle_check(timeout=timeout)
        return [idle_event(r) for r in responses]

    def idle_done(self) -> None:
        with self._guard("DONE"):
            self._c.idle_done()
