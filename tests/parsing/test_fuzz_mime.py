"""Fuzzing the MIME parser with hypothesis: structured MIME trees, hostile headers, encoded
words, deep nesting, random bytes.

Properties: parse_message never raises, never falls back to its last-resort "could not
be read" result (that fallback hides a bug in the walk), and each case parses in under
TIME_BOUND seconds of CPU time (wall time on a shared machine measured the neighbours:
a 78 KB case that takes 0.03 s of CPU once took 2.3 s of wall time under load); a hang
still fails on hypothesis' wall-clock deadline. The memory test holds each case under
MEMORY_BOUND bytes.

The default run is short. A long run:

    FUZZ_EXAMPLES=2500 .venv/bin/pytest tests/parsing/test_fuzz_mime.py -p no:cacheprovider \
        --timeout=0 --durations=0

(--timeout=0: pytest-timeout's 300 s per test would end a long run, not a parse.)
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webmail.parsing.mime import ParsedMessage, parse_message
from webmail.parsing.sanitize import html_to_text, sanitize_html

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# Real mail of the sizes generated here parses in milliseconds. Deep nesting past
# mime.MAX_DEPTH costs up to ~0.3 s of CPU (over-deep parts are re-serialised to become
# attachments): the bound is a few times that.
TIME_BOUND = float(os.environ.get("FUZZ_TIME_BOUND", "1.0"))
# Peak Python allocation while parsing one generated message (inputs stay under 1 MB).
MEMORY_BOUND = 64 * 1024 * 1024
FALLBACK = "This message could not be read; you can still download it."

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # wall clock: catches a hang, tolerates a busy machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "iso-2022-jp",
            "gb2312", "big5", "ks_c_5601-1987", "x-unknown", "utf-7", "utf-16", "bogus-cs",
            "", "utf-8'en'", "unicode-1-1-utf-7", "x-mac-cyrillic"]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)
SMALL_BYTES = st.binary(max_size=200)
HEADER_NAMES = st.sampled_from(
    ["Subject", "From", "To", "Cc", "Reply-To", "Date", "Message-ID", "In-Reply-To",
     "References", "Content-Type", "Content-Disposition", "Content-Transfer-Encoding",
     "Content-ID", "X-Anything", "Authentication-Results", "Sender"]
)  # fmt: skip


@st.composite
def encoded_words(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)).encode()
    kind = draw(st.sampled_from([b"B", b"Q", b"b", b"q", b"X"]))
    payload = draw(st.one_of(SMALL_BYTES.map(lambda b: b.replace(b"?=", b"")),
                             st.sampled_from([b"", b"====", b"=FF=FE", b"_", b"?"])))
    return b"=?" + charset + b"?" + kind + b"?" + payload + b"?="


@st.composite
def header_values(draw: st.DrawFn) -> bytes:
    pieces = draw(
        st.lists(
            st.one_of(
                encoded_words(),
                TEXT.map(lambda t: t.encode()),
                SMALL_BYTES,
                st.sampled_from([b";", b'"', b"(", b")", b"<", b">", b"@", b",", b"\\",
                                 b"name*=utf-8''%E2%82%AC", b"name*0*=x; name*1=y",
                                 b"\r\n ", b"\r\n\t", b"\n", b"\r", b"\x00"])
            ),
            max_size=12,
        )
    )
    # A bare CR or LF not followed by whitespace starts a new header: allowed, it is input.
    return b"".join(pieces)


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(HEADER_NAMES, header_values()), max_size=8))
    return b"".join(name.encode() + b": " + value + b"\r\n" for name, value in lines)


def _content_type(kind: str, draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS))
    extra = draw(st.sampled_from([b"", b'; name="=?utf-8?b?w6k=?=.pdf"',
                                  b"; name*=utf-8''%C3%A9t%C3%A9.txt", b"; format=flowed"]))
    return f"Content-Type: {kind}; charset={charset}".encode() + extra + b"\r\n"


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text/plain", "text/html", "application/octet-stream",
                                 "image/png", "text/calendar", "message/delivery-status",
                                 "application/pdf", "text/x-unknown", ""]))
    encoding = draw(st.sampled_from(ENCODINGS))
    head = _content_type(kind, draw) if kind else b""
    if encoding:
        head += f"Content-Transfer-Encoding: {encoding}\r\n".encode()
    if draw(st.booleans()):
        head += b"Content-Disposition: " + draw(header_values()) + b"\r\n"
    if kind == "text/calendar":
        body = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:" + draw(SMALL_BYTES)
                + b"\r\nDTSTART:" + draw(SMALL_BYTES) + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    elif kind == "text/html":
        body = b"<html><body>" + draw(TEXT).encode() + draw(SMALL_BYTES) + b"</body></html>"
    else:
        body = draw(st.one_of(TEXT.map(lambda t: t.encode()), SMALL_BYTES))
    return head + b"\r\n" + body


def _multipart(draw: st.DrawFn, children: list[bytes]) -> bytes:
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed",
                                    "digest", "x-weird"]))
    boundary = draw(st.sampled_from(["b", "=_boundary", "a b", "", "--", "x" * 70]))
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
    closing = draw(st.sampled_from([b"--" + boundary.encode() + b"--\r\n", b""]))
    return head + b"preamble\r\n" + body + closing


def _enclosed(draw: st.DrawFn, child: bytes) -> bytes:
    return b"Content-Type: message/rfc822\r\n\r\n" + draw(headers()) + child


def mime_trees() -> st.SearchStrategy[bytes]:
    def extend(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        @st.composite
        def node(draw: st.DrawFn) -> bytes:
            if draw(st.integers(0, 3)) == 0:
                return _enclosed(draw, draw(children))
            return _multipart(draw, draw(st.lists(children, max_size=4)))

        return node()

    return st.recursive(leaves(), extend, max_leaves=20)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    return b"MIME-Version: 1.0\r\n" + draw(headers()) + draw(mime_trees())


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 400))
    kinds = draw(st.lists(st.sampled_from(["multipart", "rfc822"]), min_size=depth,
                          max_size=depth))
    inner = draw(leaves())
    for level, kind in enumerate(reversed(kinds)):
        if kind == "rfc822":
            inner = b"Content-Type: message/rfc822\r\n\r\nSubject: level\r\n" + inner
        else:
            boundary = f"n{level}".encode()
            inner = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
                     + boundary + b"\r\n" + inner + b"\r\n--" + boundary + b"--\r\n")
    return b"From: a@example.test\r\n" + inner


def _parse_within_bound(raw: bytes) -> ParsedMessage:
    # A full collection of hypothesis' own heap (large in long runs) landing inside the
    # parse once cost 1.2 s of CPU for a case that takes 0.2 s: time the parser alone.
    gc.disable()
    try:
        started = time.process_time()
        parsed = parse_message(raw)
        elapsed = time.process_time() - started
    finally:
        gc.enable()
    assert elapsed < TIME_BOUND, f"{elapsed:.3f}s of CPU for {len(raw)} bytes"
    assert FALLBACK not in parsed.warnings
    assert isinstance(parsed.subject, str) and isinstance(parsed.text, str)
    return parsed


@fuzz
@given(messages())
def test_structured_mime_trees_parse_within_the_bound(raw: bytes) -> None:
    parsed = _parse_within_bound(raw)
    if parsed.html:
        sanitize_html(parsed.html)
        html_to_text(parsed.html)


@settings(fuzz, max_examples=max(10, EXAMPLES // 2))  # up to 0.3 s each
@given(deep_nesting())
def test_deep_nesting_parses_within_the_bound(raw: bytes) -> None:
    _parse_within_bound(raw)


@fuzz
@given(st.binary(max_size=4000))
def test_random_bytes_parse_within_the_bound(raw: bytes) -> None:
    _parse_within_bound(raw)


@fuzz
@given(headers(), st.integers(1, 2000))
def test_repeated_hostile_headers_parse_within_the_bound(block: bytes, repeat: int) -> None:
    _parse_within_bound(block * min(repeat, 1_000_000 // max(len(block), 1)) + b"\r\nbody")


@settings(fuzz, max_examples=max(20, EXAMPLES // 10))
@given(messages())
def test_parsing_stays_under_the_memory_bound(raw: bytes) -> None:
    tracemalloc.start()
    try:
        parse_message(raw * 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
