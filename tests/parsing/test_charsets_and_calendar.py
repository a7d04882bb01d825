from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from webmail.parsing.calendar import parse_calendar_event
from webmail.parsing.charsets import decode_bytes, decode_header_value, lookup_charset


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("ks_c_5601-1987", "cp949"), ("gb2312", "gb18030"), ("iso-8859-8-i", "iso8859-8"),
        ("windows-874", "cp874"), ("x-mac-cyrillic", "mac_cyrillic"), ("cp-850", "cp850"),
        ("utf8", "utf-8"), ("ansi_x3.4-1968", "ascii"), ("_iso-2022-jp$esc", "iso2022_jp"),
        ("unicode-1-1-utf-7", "utf-7"), ('"UTF-8"', "utf-8"), ("x-unknown", None),
        ("nonsense-charset", None), ("base64", None), ("rot13", None), ("", None),
    ],
)  # fmt: skip
def test_mail_charset_names_map_to_python_codecs(declared: str, expected: str | None) -> None:
    assert lookup_charset(declared) == expected


def test_decoding_never_raises_and_prefers_the_declared_charset() -> None:
    assert decode_bytes("Grüße".encode("cp1252"), "iso-8859-1") == "Grüße"
    assert decode_bytes("Grüße".encode(), "us-ascii") == "Grüße"
    assert decode_bytes("Grüße".encode("cp1252"), "x-unknown") == "Grüße"
    assert decode_bytes(b"\x81\x8d\x8f", None) == "\x81\x8d\x8f"
    assert decode_bytes(b"\xff\xfe", "utf-16-nonsense") == "ÿþ"


def test_encoded_words_with_unknown_charsets_decode_to_something() -> None:
    assert decode_header_value("=?x-unknown?q?caf=C3=A9?=") == "café"
    assert decode_header_value("=?utf-8?b?broken base64?=")  # kept, not raised


def test_adjacent_encoded_words_join_without_the_space_between_them() -> None:
    assert decode_header_value("=?utf-8?q?Hello?= =?utf-8?q?_World?=") == "Hello World"


ICS = """BEGIN:VCALENDAR\r
METHOD:REQUEST\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
SUMMARY:Planning\\, Q3\r
DTSTART;TZID=Europe/Paris:20240102T100000\r
DTEND:20240102T103000Z\r
LOCATION:Room 4\\nsecond floor\r
ORGANIZER;CN="Alice, PM":mailto:alice@example.com\r
DESCRIPTION:A long line that is fol\r
 ded here\r
BEGIN:VALARM\r
SUMMARY:alarm summary must not win\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_an_invitation_is_summarised() -> None:
    event = parse_calendar_event(ICS)
    assert event is not None
    assert event.summary == "Planning, Q3"
    assert event.method == "REQUEST"
    assert event.location == "Room 4\nsecond floor"
    assert event.organizer == "Alice, PM <alice@example.com>"
    assert isinstance(event.start, datetime)
    assert event.start.astimezone(UTC) == datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
    assert event.end == datetime(2024, 1, 2, 10, 30, tzinfo=UTC)


def test_all_day_events_and_garbage() -> None:
    event = parse_calendar_event("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20240105\nEND:VEVENT")
    assert event is not None
    assert event.start == date(2024, 1, 5)
    assert parse_calendar_event("no calendar here") is None
    assert parse_calendar_event("BEGIN:VEVENT\nDTSTART:202499\nEND:VEVENT").start is None  # type: ignore[union-attr]
