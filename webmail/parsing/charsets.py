"""Charset names as they appear in real mail, and decoding that never raises.

Mail declares charsets by names that Python's codec registry does not know
("x-unknown", "ks_c_5601-1987", "x-mac-cyrillic", "_iso-2022-jp$esc"...), or knows
under a name whose table is too small for what senders actually use (gb2312 mail is
usually gb18030, ks_c_5601-1987 is cp949, iso-8859-1 is usually windows-1252).
`decode_bytes` turns any bytes into text with a fallback chain; it never raises.
"""

from __future__ import annotations

import codecs
import email.utils
import re
from datetime import UTC, datetime
from functools import lru_cache

# Names seen in mail that Python does not know, or that should map to a superset.
CHARSET_ALIASES: dict[str, str | None] = {
    # "no idea": guess instead of trusting a declaration that says nothing.
    "x-unknown": None,
    "unknown": None,
    "unknown-8bit": None,
    "x-user-defined": None,
    "default": None,
    "charset": None,
    "8bit": None,
    "binary": None,
    # Supersets that mail clients use in place of the declared name.
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "ms_kanji": "cp932",
    "x-euc-jp": "euc_jp",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "euc_kr": "cp949",
    "latin1": "cp1252",
    "iso_8859-1": "cp1252",
    "us-ascii": "ascii",  # strict: 8-bit bytes then fall through to UTF-8
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-utf8": "utf-8",
    "unicode": "utf-16",
    "_iso-2022-jp$esc": "iso2022_jp",
    "_iso-2022-jp": "iso2022_jp",
    "iso-2022-jp-3": "iso2022_jp_3",
    "x-mac-roman": "mac_roman",
    "x-mac-ce": "mac_latin2",
    "x-mac-centraleurroman": "mac_latin2",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-ukrainian": "mac_cyrillic",
    "x-mac-greek": "mac_greek",
    "x-mac-turkish": "mac_turkish",
    "x-mac-icelandic": "mac_iceland",
    "x-mac-croatian": "mac_croatian",
    "x-mac-romanian": "mac_romanian",
    "x-mac-arabic": "mac_arabic",
    "x-mac-farsi": "mac_farsi",
}

# Codecs that are text encodings in Python's registry but make no sense (or are
# dangerous to interpret) as a declared mail charset.
_REFUSED_CODECS = frozenset(
    {"undefined", "unicode_escape", "raw_unicode_escape", "idna", "punycode", "mbcs", "oem"}
)

_CLEAN_RE = re.compile(r"[^a-z0-9_.:-]+")
_VISUAL_HEBREW_RE = re.compile(r"^(iso-8859-\d+)-[ie]$")


def _registry_name(name: str) -> str | None:
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


@lru_cache(maxsize=512)
def lookup_charset(declared: str | None) -> str | None:
    """Python codec name for a charset declared in mail, or None to guess."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").strip().lower()[:64]
    if not name:
        return None
    if name in CHARSET_ALIASES:
        return CHARSET_ALIASES[name]
    candidates = [name]
    cleaned = _CLEAN_RE.sub("", name).strip("_-.")
    candidates.append(cleaned)
    if match := _VISUAL_HEBREW_RE.match(cleaned):
        candidates.append(match.group(1))
    for prefix in ("x-", "cs"):
        if cleaned.startswith(prefix):
            candidates.append(cleaned[len(prefix) :])
    candidates.append(cleaned.replace("windows-", "cp").replace("cp-", "cp"))
    candidates.append(cleaned.replace("x-mac-", "mac_"))
    for candidate in candidates:
        if candidate in CHARSET_ALIASES:
            return CHARSET_ALIASES[candidate]
        found = _registry_name(candidate)
        if found is not None:
            return CHARSET_ALIASES.get(found, found)
    return None


def decode_bytes(data: bytes, declared: str | None = None, *, fallback: str | None = None) -> str:
    """Decode mail bytes to text; never raises.

    Order: the declared charset (strict), UTF-8 (strict), a second declared charset
    (for example the message's charset for a header), cp1252 (strict), then latin-1,
    which cannot fail.
    """
    chain: list[str] = []
    for name in (lookup_charset(declared), "utf-8", lookup_charset(fallback), "cp1252"):
        if name and name not in chain:
            chain.append(name)
    declared_name = lookup_charset(declared)
    if declared_name and declared_name.startswith("iso2022") and b"\x1b" in data:
        # 7-bit ISO-2022 always "decodes" as UTF-8; vendor extensions (NEC rows in
        # iso-2022-jp) fail strictly, so keep the declared codec and replace the rest.
        try:
            return data.decode(declared_name, "replace")
        except Exception:  # noqa: BLE001, S110 - fall through to the chain
            pass
    for name in chain:
        try:
            return data.decode(name)
        except Exception:  # noqa: BLE001, S112 - a wrong or broken codec: try the next
            continue
    return data.decode("latin-1")


def has_surrogates(text: str) -> bool:
    """True when text carries raw 8-bit bytes smuggled as surrogate escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_surrogates(text: str, fallback: str | None = None) -> str:
    """Turn a str with surrogate-escaped raw bytes (raw 8-bit headers) into real text.

    Raw ISO-2022-JP (7-bit, with escape sequences) in a header is decoded too."""
    if not has_surrogates(text):
        if "\x1b$" in text or "\x1b(" in text:
            return decode_bytes(text.encode("ascii", "replace"), "iso-2022-jp")
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return decode_bytes(raw, None, fallback=fallback)


# --- Header decoding -------------------------------------------------------------

_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_BARE_EOL_RE = re.compile(r"[\r\n]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def decode_header_value(value: str, fallback: str | None = None) -> str:
    """Decode one (already length-capped) raw header value to display text.

    Raw 8-bit bytes are decoded first (UTF-8, then the message's charset, then
    cp1252/latin-1), then RFC 2047 encoded words. Never raises.
    """
    from email.header import decode_header

    text = decode_surrogates(value, fallback)
    text = _BARE_EOL_RE.sub(" ", _FOLD_RE.sub("", text))
    if "=?" in text:
        try:
            chunks = decode_header(text)
        except (Exception, RecursionError):  # noqa: BLE001 - hostile headers must not raise
            chunks = [(text, None)]
        pieces: list[str] = []
        for chunk, charset in chunks:
            if isinstance(chunk, str):
                pieces.append(chunk)
            elif charset is None:
                # decode_header hands back undecoded runs as raw-unicode-escape bytes
                try:
                    pieces.append(chunk.decode("raw-unicode-escape"))
                except (Exception, RecursionError):  # noqa: BLE001
                    pieces.append(chunk.decode("latin-1"))
            else:
                pieces.append(decode_bytes(chunk, charset, fallback=fallback))
        text = "".join(pieces)
    return _CONTROL_RE.sub("", text).strip()


# --- Structured header fields ---------------------------------------------------------

_MSGID_RE = re.compile(r"<([^<>\s]{1,250})>")
_ADDR_FALLBACK_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+")


def message_ids(value: str) -> list[str]:
    """Message-IDs in a header, without angle brackets (a bare one is accepted too)."""
    # Raw 8-bit bytes arrive as surrogate escapes, which no database stores: read them
    # as UTF-8 (RFC 6532 allows UTF-8 here), anything else as replacement characters.
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    found: list[str] = _MSGID_RE.findall(value)
    stripped = value.strip()
    if not found and stripped and " " not in stripped and len(stripped) <= 250:
        found = [stripped.strip("<>")]
    return found


# The plain address forms nearly all mail uses: `a@b.c` and `Some Name <a@b.c>`, each
# comma-separated piece. For these, email.utils.getaddresses (a character-at-a-time
# parser: 135 us a message of the generated mailbox, a fifth of a sync's parse; cProfile)
# returns the name's words joined by one space and the address as written; anything else
# (quotes, comments, groups, routes, empty pieces) goes to it.
# tests/parsing/test_address_pairs.py checks both agree on generated address lists.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WORD = r"[^()<>@,:;\"\[\]\\ \t\r\n]+"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:({_WORD}(?:[ \t]+{_WORD})*)[ \t]*)?<({_ADDR})>[ \t]*|[ \t]*({_ADDR})[ \t]*")
_BLANKS = re.compile(r"[ \t]+")


def plain_address_pairs(value: str) -> list[tuple[str, str]] | None:
    """What `email.utils.getaddresses([value])` returns when every comma-separated piece
    of the (unfolded) value is a plain form; None when one is not."""
    pairs: list[tuple[str, str]] = []
    for piece in value.split(","):
        match = _PLAIN_ADDRESS.fullmatch(piece)
        if match is None:
            return None
        words, routed, bare = match.groups()
        pairs.append((" ".join(_BLANKS.split(words)) if words else "", routed or bare))
    return pairs


def parse_address_pairs(raw_value: str, fallback: str | None = None) -> list[tuple[str, str]]:
    """(name, address) pairs from a raw (capped) address header.

    The raw value is split first and names decoded after, because a decoded name
    may contain a comma or quotes. Never raises: nested comments make the stdlib
    recurse, so a regex that finds bare addresses is the fallback.
    """
    value = decode_surrogates(raw_value, fallback)
    value = _BARE_EOL_RE.sub(" ", _FOLD_RE.sub("", value))
    pairs = plain_address_pairs(value)
    if pairs is None:
        try:
            pairs = email.utils.getaddresses([value])
        except (Exception, RecursionError):  # noqa: BLE001 - nested comments, garbage
            pairs = [("", found) for found in _ADDR_FALLBACK_RE.findall(value)]
    result = []
    for name, address in pairs:
        decoded_name = decode_header_value(name, fallback) if name else ""
        decoded_address = decode_header_value(address, fallback) if address else ""
        if decoded_address or decoded_name:
            result.append((decoded_name, decoded_address))
    return result


def parse_date(value: str) -> datetime | None:
    """An aware datetime from a Date header, or None; a zone-less date is taken as UTC."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (Exception, RecursionError):  # noqa: BLE001 - dates in mail are often garbage
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
