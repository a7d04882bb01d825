"""A tiny iCalendar (RFC 5545) reader: just enough to summarise an invitation.

We read the first VEVENT's SUMMARY, DTSTART, DTEND, LOCATION and ORGANIZER, and the
calendar's METHOD. Anything odd gives None fields, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

# An invitation is a few KB; a 1 MB calendar is a feed, not something to summarise.
MAX_CALENDAR_CHARS = 1_000_000

_UNFOLD_RE = re.compile(r"\r?\n[ \t]")
_DATETIME_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$")
_UNESCAPE_RE = re.compile(r"\\([\\;,nN])")


@dataclass(frozen=True)
class CalendarEvent:
    summary: str
    start: datetime | date | None
    end: datetime | date | None
    location: str
    organizer: str
    method: str


def _unescape(value: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split_property(line: str) -> tuple[str, dict[str, str], str]:
    """'DTSTART;TZID=Europe/Paris:20240101T100000' -> name, params, value."""
    # The value starts at the first ':' outside a quoted parameter value.
    in_quotes = False
    split_at = -1
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            split_at = index
            break
    if split_at < 0:
        return line.upper(), {}, ""
    head, value = line[:split_at], line[split_at + 1 :]
    name, *raw_params = head.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        key, _, param_value = raw.partition("=")
        params[key.strip().upper()] = param_value.strip().strip('"')
    return name.strip().upper(), params, value


def _timezone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name.strip())
    except (Exception, RecursionError):  # noqa: BLE001 - Windows zone names, garbage
        return None


def _parse_when(value: str, params: dict[str, str]) -> datetime | date | None:
    match = _DATETIME_RE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, utc = match.groups()
    try:
        if hour is None or params.get("VALUE", "").upper() == "DATE":
            return date(int(year), int(month), int(day))
        # Floating times and unknown zones stay naive: we cannot honestly place them.
        zone = UTC if utc else _timezone(params.get("TZID"))
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=zone
        )
    except ValueError:
        return None


def parse_calendar_event(text: str) -> CalendarEvent | None:
    """Summarise the first VEVENT of an iCalendar text, or None if there is none."""
    lines = _UNFOLD_RE.sub("", text[:MAX_CALENDAR_CHARS]).splitlines()
    method = ""
    fields: dict[str, tuple[dict[str, str], str]] = {}
    in_event = False
    depth = 0
    found = False
    for line in lines:
        name, params, value = _split_property(line.strip())
        if name == "BEGIN":
            if value.strip().upper() == "VEVENT" and not found:
                in_event, found, depth = True, True, 0
            elif in_event:
                depth += 1  # a VALARM inside the event: skip its properties
            continue
        if name == "END":
            if in_event and depth == 0 and value.strip().upper() == "VEVENT":
                in_event = False
            elif in_event:
                depth -= 1
            continue
        if name == "METHOD" and not in_event:
            method = value.strip().upper()
        elif in_event and depth == 0 and name not in fields:
            fields[name] = (params, value)
    if not found:
        return None

    def text_of(key: str) -> str:
        return _unescape(fields.get(key, ({}, ""))[1]).strip()

    def when(key: str) -> datetime | date | None:
        params, value = fields.get(key, ({}, ""))
        return _parse_when(value, params)

    organizer = ""
    if "ORGANIZER" in fields:
        params, value = fields["ORGANIZER"]
        address = re.sub(r"(?i)^mailto:", "", value.strip())
        name = params.get("CN", "")
        organizer = f"{name} <{address}>" if name and address else (name or address)
    return CalendarEvent(
        summary=text_of("SUMMARY"),
        start=when("DTSTART"),
        end=when("DTEND"),
        location=text_of("LOCATION"),
        organizer=organizer,
        method=method,
    )
