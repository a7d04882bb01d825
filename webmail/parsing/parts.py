"""Parts of a parsed message: finding them by IMAP-style path, reading their
parameters, filenames and text. compat32 Message objects in, plain values out; every
function here tolerates broken input.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from webmail.parsing.charsets import decode_bytes, decode_header_value, decode_surrogates
from webmail.parsing.split import split_message

# Real headers stay under a few KB; References of a long thread reach ~10 KB. Longer
# ones are attacks or garbage, and every decoder below is cheaper on a bounded input.
MAX_HEADER_LENGTH = 16_384
# The stdlib parser recurses and rescans per nested multipart (quadratic, RecursionError
# near 330 levels), so boundary declarations past this count are defused before parsing.
MAX_BOUNDARIES = 100
# Text shown in the reader; beyond this a person downloads the message instead.
MAX_BODY_CHARS = 1_000_000
# Length kept of a filename, enough for any real one.
MAX_FILENAME_LENGTH = 150


# --- Raw bytes -> email.message.Message --------------------------------------------

_BOUNDARY_RE = re.compile(rb"(?i)boundary(?=\s*\*?\d*\*?\s*=)")
_NESTED_MESSAGE_RE = re.compile(rb"(?i)(?<=content-type:)(\s*)message/")


def _defuse(raw: bytes) -> bytes:
    """Neutralise structure past MAX_BOUNDARIES, keeping every byte offset."""
    # Fast path for real mail: fewer raw occurrences than the limit means no regex match
    # can pass it (two C-speed counts instead of two case-insensitive regex scans).
    # Each boundary match has an "=" of its own and each nested message a ":", so few of
    # those settle it without lowering the whole message first (most mail: 71% of the
    # generated mailbox, half the time of the counts below).
    if raw.count(b"=") <= MAX_BOUNDARIES and raw.count(b":") <= MAX_BOUNDARIES:
        return raw
    lowered = raw.lower()
    if (lowered.count(b"boundary") <= MAX_BOUNDARIES
            and lowered.count(b"message/") <= MAX_BOUNDARIES):
        return raw
    counter = iter(range(1 << 62))

    def boundary(match: re.Match[bytes]) -> bytes:
        return match.group(0) if next(counter) < MAX_BOUNDARIES else b"xoundary"

    message_counter = iter(range(1 << 62))

    def nested(match: re.Match[bytes]) -> bytes:
        keep = next(message_counter) < MAX_BOUNDARIES
        return match.group(0) if keep else match.group(1) + b"messagx/"

    return _NESTED_MESSAGE_RE.sub(nested, _BOUNDARY_RE.sub(boundary, raw))


def to_message(raw: bytes, warnings: list[str]) -> Message:
    defused = _defuse(raw)
    if defused != raw:
        warnings.append("This message is nested too deeply; the innermost parts are not shown.")
    # Well-formed mail: the same tree as the stdlib's, without its line-by-line reading.
    fast = split_message(defused)
    if fast is not None:
        return fast
    try:
        return BytesParser(policy=compat32).parsebytes(defused)
    except (Exception, RecursionError):  # noqa: BLE001 - fall back to headers only
        warnings.append("The structure of this message could not be read; showing headers.")
        return BytesParser(policy=compat32).parsebytes(defused, headersonly=True)


def cap_headers(part: Message, warnings: list[str]) -> None:
    items = list(part.raw_items())
    if all(len(value) <= MAX_HEADER_LENGTH for _, value in items):
        return
    for name in {name for name, _ in items}:
        del part[name]
    for name, value in items:
        if len(value) > MAX_HEADER_LENGTH:
            warnings.append(f"The {name} header was too long and has been shortened.")
        part[name] = value[:MAX_HEADER_LENGTH]


def child_parts(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [child for child in payload if isinstance(child, Message)]
    return []


def _find(message: Message, path: str) -> Message | None:
    """Follow an IMAP-style part path. An enclosed message (and the top one) numbers
    its multipart children from 1; when it is not multipart, "1" is its own body."""
    current: Message = message
    container: Message | None = message  # the message whose numbering applies next
    for step in path.split("."):
        index = int(step)
        base = container if container is not None else current
        children = child_parts(base) if base.get_content_maintype() == "multipart" else []
        if children and 0 < index <= len(children):
            current = children[index - 1]
        elif container is not None and not children and index == 1:
            current = container
        else:
            return None
        inner = child_parts(current)
        is_enclosed = current.get_content_maintype() == "message" and len(inner) == 1
        container = inner[0] if is_enclosed else None
    return current


def get_part(raw: bytes, path: str) -> bytes:
    """The decoded bytes of the part at `path` (as listed in Attachment.path); b"" if
    there is no such part. An enclosed message comes back as its RFC 822 bytes."""
    try:
        part = _find(to_message(raw, []), path)
        return payload_bytes(part) if part is not None else b""
    except (Exception, RecursionError):  # noqa: BLE001 - a bad path is simply empty
        return b""


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def payload_size(part: Message) -> int:
    """len(payload_bytes(part)), without decoding clean base64 (an attachment's size):
    decoding it was a tenth of a sync's parse on the generated mailbox (py-spy), most of
    it the strict decoder's check of every character, which two C-speed passes do here."""
    if not part.is_multipart() and part.get_content_maintype() != "message":
        payload = part._payload  # type: ignore[attr-defined]  # as the parser left it
        # The Content-Transfer-Encoding test of Message.get_payload, as it is written.
        if isinstance(payload, str) and str(part.get("content-transfer-encoding", "")
                                            ).lower() == "base64":
            size = base64_size(payload)
            if size is not None:
                return size
    return len(payload_bytes(part))


def base64_size(text: str) -> int | None:
    """How many bytes base64 `text` decodes to, when it is only the alphabet, line
    breaks and canonical padding (what the stdlib's strict first attempt accepts);
    None for anything else, which only decoding can tell."""
    if not text.isascii():
        return None
    data = text.encode("ascii").translate(None, b"\r\n")
    body = data.rstrip(b"=")
    padding = len(data) - len(body)
    if padding > 2 or body.translate(None, _BASE64_ALPHABET):
        return None
    if padding:
        return len(data) // 4 * 3 - padding if len(data) % 4 == 0 else None
    rest = len(body) % 4
    return None if rest == 1 else len(body) // 4 * 3 + rest * 3 // 4


def payload_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message" or part.is_multipart():
        inner = child_parts(part)
        target = inner[0] if part.get_content_maintype() == "message" and inner else part
        try:
            return target.as_bytes(policy=compat32)
        except (Exception, RecursionError):  # noqa: BLE001
            return b""
    try:
        payload = part.get_payload(decode=True)
    except (Exception, RecursionError):  # noqa: BLE001 - broken base64/uuencode
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


# --- Part helpers -----------------------------------------------------------------

_UNSAFE_NAME_RE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str, content_type: str, number: int) -> str:
    """A filename safe to offer for download: no paths, controls, or bidi tricks."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    name = " ".join(_UNSAFE_NAME_RE.sub("_", name).split()).lstrip(". ")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        keep = MAX_FILENAME_LENGTH - len(ext) - 1
        name = f"{stem[:keep]}.{ext}" if ext else name[:MAX_FILENAME_LENGTH]
    if name:
        return name
    if content_type in {"message/rfc822", "message/global"}:
        extension = ".eml"
    elif content_type == "text/plain":
        extension = ".txt"
    else:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{number}{extension}"


def content_type_of(part: Message) -> str:
    try:
        return part.get_content_type().lower()[:100]
    except (Exception, RecursionError):  # noqa: BLE001
        return "application/octet-stream"


def header_text(part: Message, name: str, fallback: str | None = None) -> str:
    """First value of a header as text (raw 8-bit decoded), "" if absent."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            return decode_surrogates(value, fallback)
    return ""


def header_param(part: Message, header: str, param: str, fallback: str | None = None) -> str:
    """A header parameter, RFC 2231 included. compat32 turns raw 8-bit values into
    replacement characters, so the value is decoded first and parsed on a scratch
    Message."""
    value = header_text(part, header, fallback)
    # A parameter whose name is nowhere in the value is not there (RFC 2231's "name*0"
    # and "name*" hold it too): most text parts have no filename, and the scratch
    # Message and its parameter parsing cost ~20 us each (py-spy).
    if not value or param.lower() not in value.lower():
        return ""
    scratch = Message()
    scratch[header] = value
    try:
        if header.lower() == "content-disposition" and param == "filename":
            found: object = scratch.get_filename()
        else:
            found = scratch.get_param(param, header=header)
    except (Exception, RecursionError):  # noqa: BLE001
        return ""
    if isinstance(found, tuple):  # an undecodable RFC 2231 triple
        found = found[2]
    return str(found or "")


def filename_of(part: Message, fallback: str | None) -> str:
    name = header_param(part, "Content-Disposition", "filename", fallback) or header_param(
        part, "Content-Type", "name", fallback
    )
    return decode_header_value(name[:1000], fallback)


def disposition_of(part: Message) -> str:
    return header_text(part, "Content-Disposition").split(";", 1)[0].strip().lower()


def content_id_of(part: Message) -> str:
    return header_text(part, "Content-ID").strip().strip("<>").strip()[:250]


def part_text(part: Message, warnings: list[str]) -> str:
    """Decode a text part with the charset chain; cut it to the display limit."""
    data = payload_bytes(part)
    try:
        charset = part.get_param("charset")
    except (Exception, RecursionError):  # noqa: BLE001
        charset = None
    declared = charset if isinstance(charset, str) else None
    text = decode_bytes(data[: MAX_BODY_CHARS * 4], declared).replace("\x00", "")
    if len(text) > MAX_BODY_CHARS or len(data) > MAX_BODY_CHARS * 4:
        warnings.append("This message is very long; only the beginning is shown.")
        text = text[:MAX_BODY_CHARS]
    return text.replace("\r\n", "\n")
