"""The fast splitter (webmail/parsing/split.py) builds exactly the Message tree the
stdlib's feedparser builds, or declines (None) and the stdlib parses as before."""

from __future__ import annotations

import random
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

import pytest
from hypothesis import given

from bench.generator import generate_mailbox
from tests.parsing.corpus import corpus_files
from tests.parsing.test_fuzz_mime import deep_nesting, fuzz, messages
from webmail.parsing.mime import parse_message
from webmail.parsing.split import split_message


def tree(message: Message) -> Any:
    """Everything of a compat32 Message the parser sets, nested parts included."""
    payload = message._payload  # type: ignore[attr-defined]
    return (
        type(message), list(message._headers),  # type: ignore[attr-defined]
        message._unixfrom, message._default_type,  # type: ignore[attr-defined]
        message._charset, message.preamble, message.epilogue,  # type: ignore[attr-defined]
        [type(defect) for defect in message.defects],
        [tree(part) for part in payload] if isinstance(payload, list) else payload,
    )


def stdlib(raw: bytes) -> Message:
    return BytesParser(policy=compat32).parsebytes(raw)


def assert_same_or_declined(raw: bytes) -> bool:
    fast = split_message(raw)
    if fast is None:
        return False
    assert tree(fast) == tree(stdlib(raw))
    return True


def test_generated_mailboxes_take_the_fast_path_and_match_the_stdlib() -> None:
    raws = list(generate_mailbox(400, seed=11))
    taken = sum(assert_same_or_declined(raw) for raw in raws)
    assert taken == len(raws)  # well-formed generated mail never needs the slow path


def test_lf_only_and_edited_boundaries_match_the_stdlib() -> None:
    rng = random.Random(5)
    for raw in generate_mailbox(150, seed=12):
        assert_same_or_declined(raw.replace(b"\r\n", b"\n"))
        # Whitespace after boundaries, no line ending at the end, a preamble, epilogues.
        edited = raw.replace(b"--\r\n", b"-- \t\r\n").rstrip(b"\r\n")
        assert_same_or_declined(edited)
        cut = rng.randrange(len(raw))
        assert_same_or_declined(raw[:cut])
        assert_same_or_declined(raw[:cut] + b"\r\n" + raw[cut:])


MIXED = b'Content-Type: multipart/mixed; boundary="x"\r\n'
HAND_MADE = [
    b"",
    b"\r\n",
    b"Subject: x\r\n",
    b"Subject: x\r\n\r\n",
    b"From nobody Mon Jan 1\r\nSubject: x\r\n\r\nbody",
    b"Subject: x\r\nnot a header\r\n\r\nbody",
    b"Subject: x\r\n continued\r\n\tagain\r\n\r\nbody\r\n",
    b" leading: space\r\n\r\nbody",
    b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n--x--\r\n",
    MIXED + b'\r\n--x\r\n\r\na\r\n--x--\r\n',
    MIXED + b'\r\npre\r\n--x\r\n\r\na\r\n--x--\r\nepi\r\n',
    MIXED + b'\r\n--x\r\n\r\na\r\n--x\r\n\r\n--x--',
    MIXED + b'\r\n--x\r\n\r\na\r\n--x\r\n--x\r\n\r\nb\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n\r\na\r\n',
    MIXED + b'\r\n--x--\r\n',
    MIXED + b'\r\n--xy\r\n\r\na\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n\r\n a --x\r\n--x---\r\n--x--\r\n',
    MIXED + b'Content-Transfer-Encoding: base64\r\n\r\n'
    b'--x\r\n\r\na\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n'
    b'Content-Type: multipart/alternative; boundary="y"\r\n\r\n--y\r\n\r\nA\r\n--y\r\n\r\nB\r\n'
    b'--y--\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nC\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n'
    b'Content-Type: multipart/alternative; boundary="y"\r\n\r\n--y\r\n\r\nA\r\n--y--\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n'
    b'Content-Type: multipart/alternative; boundary="y"\r\n\r\n--y\r\n\r\nA\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n'
    b'Content-Type: multipart/alternative; boundary="x-"\r\n\r\n'
    b'--x-\r\n\r\nA\r\n--x---\r\n--x--\r\n',
    b'Content-Type: multipart/digest; boundary="x"\r\n\r\n'
    b'--x\r\n\r\nSubject: a\r\n\r\nb\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n'
    b'Subject: inner\r\n\r\nhi\r\n--x--\r\n',
    MIXED + b'\r\n--x\rContent-Type: text/plain\r\n\r\na\r\n--x--',
    b'Content-Type: text/plain; charset="utf-8"\r\nSubject: \xc3\xa9t\xc3\xa9\r\n\r\n\xff\xfe body',
    # Header lines as _with_headers builds them, or hands to the stdlib.
    b":no name\r\nSubject: x\r\n\r\nbody",
    b"Subject:x\r\nTo:\t \t a@b.c \r\n\r\nbody",
    b"Subject: x\r\nFrom nobody\r\nTo: y\r\n\r\nbody",
    b"X-Empty:\r\nX-Blank: \r\n \r\n\r\nbody",
    b"Subject: a\nTo: b\n  c\n\nLF only",
    MIXED + b'\r\n--x\r\nContent-Type: text/plain\r\n folded: yes\r\nX-A:1\r\n\r\na\r\n--x--\r\n',
    MIXED + b'\r\n--x\r\n continued first\r\n\r\na\r\n--x--\r\n',
]


@pytest.mark.parametrize("raw", HAND_MADE)
def test_hand_made_edge_cases_match_or_decline(raw: bytes) -> None:
    assert_same_or_declined(raw)


def test_the_corpus_matches_or_declines() -> None:
    files = corpus_files()
    if not files:
        pytest.skip("the shared MIME corpus is not available")
    taken = sum(assert_same_or_declined(path.read_bytes()) for path in files)
    assert taken > len(files) // 3  # most real mail takes the fast path


@fuzz
@given(messages())
def test_fuzzed_mime_trees_match_or_decline(raw: bytes) -> None:
    assert_same_or_declined(raw)


@fuzz
@given(deep_nesting())
def test_deep_nesting_matches_or_declines(raw: bytes) -> None:
    assert_same_or_declined(raw)


def test_parse_message_gives_the_same_fields_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    raws = list(generate_mailbox(120, seed=13))
    fast = [parse_message(raw) for raw in raws]
    monkeypatch.setattr("webmail.parsing.parts.split_message", lambda raw: None)
    assert [parse_message(raw) for raw in raws] == fast
