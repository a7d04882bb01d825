"""Mail in portable files: mbox (mboxrd) and zip of .eml, both ways.

mboxrd quoting (one more ">" before any line matching ^>*From ) is reversible, so a
message exported and imported again has exactly its original bytes, as long as it
ends with a line break (every message a server stores does).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO

from django.utils.translation import gettext as _

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_QUOTED_FROM_LINE = re.compile(rb"^>(>*From )", re.MULTILINE)
_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)

# An uploaded archive is read this far at most, and each message this large at most.
MAX_MESSAGES_PER_IMPORT = 100_000
MAX_MESSAGE_BYTES = 100 * 1024 * 1024


class ImportFormatError(ValueError):
    """The file is not an mbox, an .eml or a zip of .eml files."""


def mbox_entry(
    raw: bytes, *, sender: str = "MAILER-DAEMON", when: datetime | None = None
) -> bytes:
    stamp = (when or datetime.now(tz=UTC)).astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y")
    body = _FROM_LINE.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    clean_sender = re.sub(r"[\s]", "", sender) or "MAILER-DAEMON"
    separator = b"From " + clean_sender.encode("ascii", "replace") + b" " + stamp.encode()
    return separator + b"\n" + body + b"\n"


def split_mbox(data: bytes) -> Iterator[bytes]:
    """The messages of an mbox file, unquoted (mboxrd)."""
    starts = [m.start() for m in _SEPARATOR.finditer(data)]
    if not starts or starts[0] != 0:
        raise ImportFormatError(_("This is not an mbox file: it does not start with a From line."))
    for index, start in enumerate(starts[:MAX_MESSAGES_PER_IMPORT]):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        header_end = data.index(b"\n", start) + 1
        body = data[header_end:end]
        if body.endswith(b"\n"):
            body = body[:-1]  # the blank line that separates messages
        yield _QUOTED_FROM_LINE.sub(rb"\1", body)


def write_eml_zip(target: IO[bytes], messages: Iterable[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, raw in messages:
            archive.writestr(name, raw)


def read_upload(name: str, data: bytes) -> Iterator[bytes]:
    """Messages from an uploaded file: .zip of .eml, mbox, or a single .eml."""
    lowered = name.lower()
    if lowered.endswith(".zip") or data[:4] == b"PK\x03\x04":
        yield from _read_zip(data)
    elif data.startswith(b"From "):
        yield from split_mbox(data)
    elif lowered.endswith(".eml") or b":" in data[:1000]:
        yield data
    else:
        raise ImportFormatError(_("Upload an .eml file, an mbox file or a zip of .eml files."))


def _read_zip(data: bytes) -> Iterator[bytes]:
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportFormatError(_("This zip file is damaged.")) from exc
    with archive:
        members = [i for i in archive.infolist()
                   if not i.is_dir() and i.filename.lower().endswith(".eml")]
        for info in sorted(members, key=lambda i: i.filename)[:MAX_MESSAGES_PER_IMPORT]:
            if info.file_size > MAX_MESSAGE_BYTES:
                continue  # a zip bomb or an absurd message: skipped, not expanded
            yield archive.read(info)
