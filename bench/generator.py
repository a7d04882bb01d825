"""Deterministic, realistic mailbox generator for benchmarks and search tests.

`generate_mailbox(count, seed)` yields RFC 5322 messages (CRLF line endings, about 30 KB
on average) that look like a real person's mail: plain notes, HTML newsletters with a
text alternative, attachments (random bytes dressed as PDFs and images, up to ~300 KB),
legacy charsets (iso-8859-1, windows-1252, koi8-r, shift_jis) with RFC 2047 subjects and
names, non-ASCII words, threads with In-Reply-To/References, dates over several years,
and some lines longer than 2048 characters (poplib's _MAXLINE trips on those).

Everything comes from one `random.Random(seed)`, so the same seed gives the same bytes on
every machine and Python version that keeps Random's algorithm (3.2+).
`generate_with_meta` yields the same bytes with the facts a search test can check.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import quoprimime
from email.utils import format_datetime
from typing import Any

CRLF = "\r\n"


def _split(text: str) -> list[str]:
    return text.split()


ENGLISH = _split(
    "meeting agenda budget quarterly report invoice project deadline schedule review "
    "proposal contract update summary coffee lunch holiday travel ticket hotel flight "
    "release server database backup migration deploy ticket customer feedback design "
    "prototype roadmap estimate payment receipt shipment order warehouse office garden "
    "weekend birthday concert library museum bicycle kitchen recipe weather mountain river "
    "the and for with from about please thanks regards tomorrow today next week monday "
    "friday morning evening attached document draft final version question answer"
)
LATIN_ACCENTED = _split(
    "café résumé naïve façade déjà fiancée crème brûlée garçon élève où très "
    "mañana niño señor año corazón canción pingüino jalapeño "
    "Müller Größe Straße Bücher schön Mädchen Übersicht Fußgänger "
    "Donaudampfschifffahrtsgesellschaft Rechtsschutzversicherungsgesellschaften "
    "Kraftfahrzeughaftpflichtversicherung Arbeitsunfähigkeitsbescheinigung "
    "Geschwindigkeitsbegrenzung Weihnachtsmarktbesucher Haushaltsplanungsentwurf"
)
WINDOWS_1252_EXTRAS = _split("€uro “quoted” ‘single’ naïve—dash trade™ bullet•point …")
CYRILLIC = _split(
    "привет встреча отчёт бюджет проект договор счёт письмо сегодня завтра спасибо "
    "пожалуйста неделя понедельник пятница утро вечер документ вопрос ответ Москва "
    "Петербург библиотека погода"
)
JAPANESE = _split(
    "会議 予定 報告書 予算 請求書 プロジェクト 締め切り 確認 お願いします ありがとう "
    "東京 大阪 来週 月曜日 金曜日 資料 添付 質問 回答 天気 図書館 旅行"
)

# charset -> the words that charset can carry, besides English.
CHARSET_WORDS: dict[str, tuple[str, ...]] = {
    "utf-8": tuple(LATIN_ACCENTED + CYRILLIC + JAPANESE),
    "iso-8859-1": tuple(LATIN_ACCENTED),
    "windows-1252": tuple(LATIN_ACCENTED + WINDOWS_1252_EXTRAS),
    "koi8-r": tuple(CYRILLIC),
    "shift_jis": tuple(JAPANESE),
}
LEGACY_CHARSETS = ("iso-8859-1", "windows-1252", "koi8-r", "shift_jis")


@dataclass(frozen=True)
class Person:
    name: str
    address: str
    charset: str  # the charset this person's mail client writes in


SENDERS: tuple[Person, ...] = (
    Person("Alice Example", "alice@example.org", "utf-8"),
    Person("Bob Builder", "bob@builder.example", "utf-8"),
    Person("José Müller", "jose.mueller@example.de", "iso-8859-1"),
    Person("François Dupont", "f.dupont@example.fr", "windows-1252"),
    Person("Jürgen Groß", "juergen@grosse.example", "windows-1252"),
    Person("Иван Петров", "ivan@example.ru", "koi8-r"),
    Person("Наталья Смирнова", "natasha@example.ru", "koi8-r"),
    Person("山田太郎", "yamada@example.jp", "shift_jis"),
    Person("佐藤花子", "hanako@example.jp", "utf-8"),
    Person("Weekly Digest", "newsletter@news.example.com", "utf-8"),
    Person("Shop Deals", "deals@shop.example.net", "utf-8"),
    Person("GitHub", "noreply@github.example", "utf-8"),
    Person("Carol O'Neil", "carol@example.ie", "utf-8"),
    Person("Dave", "dave@example.com", "utf-8"),
)
NEWSLETTER_SENDERS = tuple(p for p in SENDERS if p.address.split("@")[0] in {
    "newsletter", "deals", "noreply"})
RECIPIENT = Person("Test User", "user@example.test", "utf-8")

FIRST_DATE = datetime(2019, 1, 1, tzinfo=UTC)
DATE_SPAN_SECONDS = 6 * 365 * 24 * 3600


def generate_mailbox(count: int, seed: int = 1) -> Iterator[bytes]:
    """Yield `count` raw messages, the same bytes for the same seed."""
    for raw, _meta in generate_with_meta(count, seed):
        yield raw


def generate_with_meta(count: int, seed: int = 1) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Yield (raw message, facts) pairs.

    Facts: subject and from (decoded text), date (aware datetime), message_id,
    in_reply_to, has_attachment, attachments [(filename, content type, size)],
    charset, kind, and words (the distinct words of the body text).
    """
    rng = random.Random(seed)
    builder = _Builder(rng)
    # Dates ascend like a real mailbox's arrival order, with jitter.
    step = DATE_SPAN_SECONDS / max(count, 1)
    for index in range(count):
        offset = index * step + rng.uniform(0, step)
        date = FIRST_DATE + timedelta(seconds=int(offset))
        yield builder.message(index, date)


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.threads: list[tuple[str, list[str]]] = []  # (subject, message-id chain)

    def message(self, index: int, date: datetime) -> tuple[bytes, dict[str, Any]]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.22:
            sender = rng.choice(NEWSLETTER_SENDERS)
            kind = "newsletter"
        else:
            sender = rng.choice(SENDERS)
            kind = "attachment" if roll > 0.82 else "plain"
        charset = sender.charset
        if kind != "newsletter" and charset == "utf-8" and rng.random() < 0.15:
            charset = rng.choice(LEGACY_CHARSETS)
        message_id = f"<{index}.{rng.getrandbits(48):012x}@{sender.address.split('@')[1]}>"

        subject, in_reply_to, references = self._thread(kind, charset, message_id)
        words_used: set[str] = set()
        headers = [
            ("Return-Path", f"<{sender.address}>"),
            ("Received", f"from mx.{sender.address.split('@')[1]} by mail.example.test "
             f"with ESMTPS id {rng.getrandbits(40):010x}; {format_datetime(date)}"),
            ("Date", format_datetime(date)),
            ("From", _address(sender.name, sender.address, charset)),
            ("To", _address(RECIPIENT.name, RECIPIENT.address, "utf-8")),
            ("Subject", _encode_header(subject, charset)),
            ("Message-ID", message_id),
        ]
        if in_reply_to:
            headers.append(("In-Reply-To", in_reply_to))
            headers.append(("References", _fold(" ".join(references))))
        headers.append(("MIME-Version", "1.0"))
        if kind == "newsletter":
            headers.append(("List-Unsubscribe", f"<https://{sender.address.split('@')[1]}"
                            f"/unsubscribe?id={rng.getrandbits(64):x}>"))

        attachments: list[tuple[str, str, int]] = []
        if kind == "newsletter":
            body_headers, body = self._newsletter(charset, words_used)
        elif kind == "attachment":
            body_headers, body = self._with_attachments(charset, words_used, attachments)
        else:
            body_headers, body = self._text_part(charset, words_used, rng.randint(40, 900))
        head = "".join(f"{name}: {value}{CRLF}" for name, value in headers + body_headers)
        raw = head.encode("ascii") + CRLF.encode() + body
        meta: dict[str, Any] = {
            "subject": subject,
            "from": f"{sender.name} <{sender.address}>",
            "from_address": sender.address,
            "date": date,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "has_attachment": bool(attachments),
            "attachments": attachments,
            "charset": charset,
            "kind": kind,
            "words": sorted(words_used),
            "size": len(raw),
        }
        return raw, meta

    def _thread(self, kind: str, charset: str, message_id: str) -> tuple[str, str, list[str]]:
        rng = self.rng
        usable = [t for t in self.threads[-40:] if _encodable(t[0], charset)]
        if kind != "newsletter" and usable and rng.random() < 0.3:
            thread = rng.choice(usable)
            subject, chain = thread
            references = chain[-10:]
            chain.append(message_id)
            return f"Re: {subject}", chain[-2], references
        words = self._words(charset, rng.randint(3, 8))
        subject = " ".join(words).capitalize()
        if kind != "newsletter":
            self.threads.append((subject, [message_id]))
        return subject, "", []

    def _words(self, charset: str, n: int) -> list[str]:
        extra = CHARSET_WORDS[charset]
        pool = ENGLISH if self.rng.random() < 0.5 else ENGLISH + list(extra) * 2
        return self.rng.choices(pool, k=n)

    def _paragraphs(self, charset: str, words_used: set[str], n_words: int) -> str:
        rng = self.rng
        words = self._words(charset, n_words)
        words_used.update(words)
        lines: list[str] = []
        line: list[str] = []
        width = 0
        for i, word in enumerate(words):
            line.append(word)
            width += len(word) + 1
            if width > 66 or i == len(words) - 1:
                lines.append(" ".join(line))
                line, width = [], 0
                if rng.random() < 0.12:
                    lines.append("")
        return CRLF.join(lines) + CRLF

    def _text_part(
        self, charset: str, words_used: set[str], n_words: int
    ) -> tuple[list[tuple[str, str]], bytes]:
        text = self._paragraphs(charset, words_used, n_words)
        if self.rng.random() < 0.03:
            # A pasted log line or URL list: one physical line far past 2048 characters.
            long = " ".join(self._words(charset, 600))
            words_used.update(long.split())
            text += long + CRLF
        return self._encode_text(text, charset, "plain")

    def _encode_text(
        self, text: str, charset: str, subtype: str
    ) -> tuple[list[tuple[str, str]], bytes]:
        data = text.encode(charset)
        long_line = max(len(line) for line in data.split(b"\r\n")) > 998
        if data.isascii() and not long_line:
            cte = "7bit"
        elif long_line or self.rng.random() < 0.4:
            # Real mailers send 8bit with overlong lines; that is the case we want.
            cte = "8bit"
        elif self.rng.random() < 0.5:
            cte = "quoted-printable"
        else:
            cte = "base64"
        if cte == "quoted-printable":
            body = quoprimime.body_encode(data.decode("latin-1"), 76, CRLF).encode("ascii")
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
        elif cte == "base64":
            body = _b64(data)
        else:
            body = data
        headers = [
            ("Content-Type", f'text/{subtype}; charset="{charset}"'),
            ("Content-Transfer-Encoding", cte),
        ]
        return headers, body

    def _newsletter(
        self, charset: str, words_used: set[str]
    ) -> tuple[list[tuple[str, str]], bytes]:
        rng = self.rng
        items = rng.randint(6, 30)
        text_parts: list[str] = []
        html_parts: list[str] = [
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>"
            "body{font-family:Arial,sans-serif;margin:0}td{padding:8px}"
            ".btn{background:#0b5;color:#fff;border-radius:4px}</style></head>"
            "<body><table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">"
        ]
        for item in range(items):
            title = " ".join(self._words(charset, rng.randint(3, 7))).title()
            para = " ".join(self._words(charset, rng.randint(30, 120)))
            words_used.update(title.lower().split())
            words_used.update(para.split())
            url = f"https://news.example.com/a/{rng.getrandbits(32):x}?utm_source=newsletter"
            text_parts.append(f"{title}{CRLF}{para}{CRLF}Read more: {url}{CRLF}{CRLF}")
            html_parts.append(
                f"<tr><td style=\"border-bottom:1px solid #eee\"><h2 style=\"color:#333;"
                f"font-size:18px\">{title}</h2><img src=\"https://img.example.com/{item}.png\""
                f" width=\"560\" alt=\"\"><p style=\"line-height:1.5;color:#555\">{para}</p>"
                f"<a class=\"btn\" href=\"{url}\">Read more</a></td></tr>"
            )
        html_parts.append("</table></body></html>")
        # Many newsletter tools emit the whole HTML as one line; keep that in some.
        joiner = "" if rng.random() < 0.3 else CRLF
        html = joiner.join(html_parts) + CRLF
        text = "".join(text_parts)
        boundary = f"=_alt_{rng.getrandbits(64):016x}"
        parts = [
            self._encode_text(text, charset, "plain"),
            self._encode_text(html, charset, "html"),
        ]
        return _multipart("alternative", boundary, parts)

    def _with_attachments(
        self, charset: str, words_used: set[str], attachments: list[tuple[str, str, int]]
    ) -> tuple[list[tuple[str, str]], bytes]:
        rng = self.rng
        parts = [self._text_part(charset, words_used, rng.randint(20, 250))]
        for _ in range(rng.choices((1, 2, 3), weights=(75, 20, 5))[0]):
            size_class = rng.random()
            if size_class < 0.55:
                size = rng.randint(3_000, 40_000)
            elif size_class < 0.9:
                size = rng.randint(40_000, 110_000)
            else:
                size = rng.randint(110_000, 300_000)
            ctype, ext, magic = rng.choice((
                ("application/pdf", "pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
                ("image/png", "png", b"\x89PNG\r\n\x1a\n"),
                ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
            ))
            stem = rng.choice(("invoice", "scan", "photo", "report", "Übersicht",
                               "отчёт", "資料", "budget 2024"))
            filename = f"{stem}_{rng.randint(1, 999)}.{ext}"
            data = magic + rng.randbytes(size - len(magic))
            attachments.append((filename, ctype, size))
            if filename.isascii():
                disposition = f'attachment; filename="{filename}"'
                ctype_header = f'{ctype}; name="{filename}"'
            else:
                # RFC 2231 for the filename, RFC 2047 for name= as old clients expect.
                encoded = "".join(
                    chr(b) if chr(b).isalnum() and b < 128 or chr(b) in "._-" else f"%{b:02X}"
                    for b in filename.encode("utf-8")
                )
                disposition = f"attachment;{CRLF} filename*=utf-8''{encoded}"
                ctype_header = f'{ctype};{CRLF} name="{_encode_header(filename, "utf-8")}"'
            parts.append((
                [("Content-Type", ctype_header),
                 ("Content-Disposition", disposition),
                 ("Content-Transfer-Encoding", "base64")],
                _b64(data),
            ))
        boundary = f"=_mixed_{rng.getrandbits(64):016x}"
        return _multipart("mixed", boundary, parts)


def _multipart(
    subtype: str, boundary: str, parts: list[tuple[list[tuple[str, str]], bytes]]
) -> tuple[list[tuple[str, str]], bytes]:
    chunks = [b"This is a multi-part message in MIME format.\r\n"]
    for headers, body in parts:
        chunks.append(f"--{boundary}{CRLF}".encode())
        chunks.append("".join(f"{n}: {v}{CRLF}" for n, v in headers).encode("ascii"))
        chunks.append(b"\r\n")
        chunks.append(body if body.endswith(b"\r\n") else body + b"\r\n")
    chunks.append(f"--{boundary}--{CRLF}".encode())
    return [("Content-Type", f'multipart/{subtype};{CRLF} boundary="{boundary}"')], b"".join(
        chunks
    )


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _address(name: str, address: str, charset: str) -> str:
    if not _encodable(name, charset):
        charset = "utf-8"
    if name.isascii():
        quoted = f'"{name}"' if any(c in name for c in "'.,") else name
        return f"{quoted} <{address}>"
    return f"{_encode_header(name, charset)} <{address}>"


def _encode_header(text: str, charset: str) -> str:
    """RFC 2047 encoded words (folded), plain text if ASCII.

    Hand-rolled because email.header converts shift_jis to iso-2022-jp; we want the
    charset the sender's client actually used.
    """
    if text.isascii():
        return _fold(text)
    use_q = charset in ("iso-8859-1", "windows-1252")
    words: list[str] = []
    chunk = ""
    for char in text:
        candidate = chunk + char
        if len(_encoded_word(candidate, charset, use_q)) > 75 and chunk:
            words.append(_encoded_word(chunk, charset, use_q))
            candidate = char
        chunk = candidate
    if chunk:
        words.append(_encoded_word(chunk, charset, use_q))
    return f"{CRLF} ".join(words)


def _encoded_word(text: str, charset: str, use_q: bool) -> str:
    data = text.encode(charset)
    if use_q:
        encoded = "".join(
            "_" if b == 0x20 else chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}"
            for b in data
        )
        return f"=?{charset}?Q?{encoded}?="
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def _fold(value: str) -> str:
    """Fold a long header value at spaces so no header line passes 78 characters."""
    out: list[str] = []
    line = ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > 76:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return f"{CRLF} ".join(out)
