"""Strings as the database takes them, without Django: shared by the store's row
builders (webmail.mail.rows.clean) and the sync's parsing processes, which clean a
message's search text where it was parsed (webmail.sync.imap_prepare)."""

from __future__ import annotations


def clean_text(value: str) -> str:
    """`value` without lone surrogates: the parser lets some through from raw 8-bit
    headers, and PostgreSQL and SQLite both reject them."""
    if not has_surrogates(value):
        return value
    try:  # bytes smuggled through surrogateescape: get them back
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def has_surrogates(value: str) -> bool:
    """Whether `value` holds a lone surrogate, which strict UTF-8 cannot encode: that
    encode is a C loop, twice as fast as a regex over a message's search text."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
