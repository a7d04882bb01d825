"""What the IMAP client returns (frozen dataclasses) and the pure parsing helpers it uses.

No network, no Django: everything here is tested with bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

Role = Literal["inbox", "sent", "drafts", "trash", "junk", "archive", ""]
IdleKind = Literal["exists", "expunge", "fetch", "other"]

# RFC 6154 attributes -> our roles.
SPECIAL_USE: dict[str, Role] = {
    "\\sent": "sent",
    "\\drafts": "drafts",
    "\\trash": "trash",
    "\\junk": "junk",
    "\\archive": "archive",
}
# Servers without SPECIAL-USE: the usual names (last level, case-insensitive), in order
# of preference when several exist.
WELL_KNOWN: dict[str, Role] = {
    "sent": "sent",
    "sent items": "sent",
    "sent messages": "sent",
    "sent mail": "sent",
    "drafts": "drafts",
    "draft": "drafts",
    "trash": "trash",
    "deleted items": "trash",
    "deleted messages": "trash",
    "junk": "junk",
    "spam": "junk",
    "junk e-mail": "junk",
    "bulk mail": "junk",
    "archive": "archive",
    "archives": "archive",
}
UNSELECTABLE = frozenset({"\\noselect", "\\nonexistent"})


@dataclass(frozen=True)
class FolderStatus:
    """What LIST-STATUS tells about a folder without selecting it."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    messages: int


@dataclass(frozen=True)
class RemoteFolder:
    name: str  # decoded, full path with the delimiter
    remote_name: str  # as sent on the wire (modified UTF-7 unless UTF8=ACCEPT)
    delimiter: str
    role: Role
    selectable: bool
    status: FolderStatus | None = None  # when the server has LIST-STATUS


@dataclass(frozen=True)
class FlagRecord:
    uid: int
    flags: frozenset[str]
    modseq: int | None


@dataclass(frozen=True)
class SelectInfo:
    uidvalidity: int
    uidnext: int
    highestmodseq: int | None
    exists: int
    vanished: tuple[int, ...] = ()
    changed: tuple[FlagRecord, ...] = ()


@dataclass(frozen=True)
class HeaderRecord:
    uid: int
    flags: frozenset[str]
    size: int
    internal_date: datetime | None
    modseq: int | None
    header_bytes: bytes


@dataclass(frozen=True)
class Quota:
    used_bytes: int
    limit_bytes: int


@dataclass(frozen=True)
class IdleEvent:
    kind: IdleKind
    number: int


def decode_flags(raw: Iterable[bytes | str]) -> frozenset[str]:
    """Flags as str, without \\Recent (session-bound, meaningless to a copy)."""
    out = set()
    for flag in raw:
        text = flag.decode("utf-8", "replace") if isinstance(flag, bytes) else str(flag)
        if text.lower() != "\\recent":
            out.add(text)
    return frozenset(out)


def uid_set(uids: Iterable[int]) -> str:
    """Sorted UIDs as a compact IMAP set: [1,2,3,7,9,10] -> "1:3,7,9:10"."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


def parse_uid_set(text: str | bytes) -> list[int]:
    """"1:3,7" -> [1, 2, 3, 7]. A "*" cannot appear in a server's answer."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        if ":" in part:
            low, high = (int(x) for x in part.split(":", 1))
            if low > high:
                low, high = high, low
            out.extend(range(low, high + 1))
        else:
            out.append(int(part))
    return out


_VANISHED = re.compile(rb"^(?:\(EARLIER\)\s+)?([0-9:,]+)\s*$", re.IGNORECASE)


def parse_vanished(data: bytes) -> list[int]:
    """The payload of `* VANISHED (EARLIER) 1:3,5` (imaplib keeps it without the name)."""
    match = _VANISHED.match(data.strip())
    return parse_uid_set(match.group(1)) if match else []


_COPYUID = re.compile(rb"(\d+)\s+([0-9:,]+)\s+([0-9:,]+)")


def parse_copyuid(data: bytes | None) -> dict[int, int]:
    """`uidvalidity src-set dst-set` of a COPYUID code -> {old uid: new uid}."""
    if not data:
        return {}
    match = _COPYUID.search(data)
    if not match:
        return {}
    sources = parse_uid_set(match.group(2))
    targets = parse_uid_set(match.group(3))
    if len(sources) != len(targets):
        return {}
    return dict(zip(sources, targets, strict=True))


_APPENDUID = re.compile(rb"APPENDUID\s+(\d+)\s+(\d+)", re.IGNORECASE)


def parse_appenduid(data: bytes | None) -> tuple[int, int] | None:
    if not data:
        return None
    match = _APPENDUID.search(data)
    return (int(match.group(1)), int(match.group(2))) if match else None


def folder_role(name: str, delimiter: str, attributes: Iterable[str]) -> Role:
    """The role SPECIAL-USE gives a folder; INBOX is always the inbox."""
    if name.upper() == "INBOX":
        return "inbox"
    for attribute in attributes:
        role = SPECIAL_USE.get(attribute.lower())
        if role:
            return role
    return ""


def fallback_role(name: str, delimiter: str) -> Role:
    """The role a well-known name suggests, for top-level folders or those under INBOX."""
    parts = name.split(delimiter) if delimiter else [name]
    if len(parts) > 2 or (len(parts) == 2 and parts[0].upper() != "INBOX"):
        return ""
    return WELL_KNOWN.get(parts[-1].strip().lower(), "")


def assign_roles(folders: Sequence[RemoteFolder]) -> list[RemoteFolder]:
    """Fill in roles by well-known names where SPECIAL-USE gave none; one folder a role."""
    taken = {f.role for f in folders if f.role}
    order = list(WELL_KNOWN)
    candidates: dict[Role, tuple[int, int]] = {}
    for index, folder in enumerate(folders):
        if folder.role or not folder.selectable:
            continue
        role = fallback_role(folder.name, folder.delimiter)
        if not role or role in taken:
            continue
        leaf = folder.name.split(folder.delimiter)[-1].strip().lower() if folder.delimiter \
            else folder.name.lower()
        rank = order.index(leaf)
        if role not in candidates or rank < candidates[role][0]:
            candidates[role] = (rank, index)
    chosen = {index: role for role, (_, index) in candidates.items()}
    return [replace(f, role=chosen[i]) if i in chosen else f for i, f in enumerate(folders)]
