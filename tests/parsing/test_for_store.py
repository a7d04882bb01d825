"""parse_message(for_store=True), as the sync's workers call it, gives the stored fields
exactly as a full parse does; only the reader's `html` and `headers` stay empty."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given

from bench.generator import generate_mailbox
from tests.parsing.corpus import corpus_files
from tests.parsing.test_fuzz_mime import deep_nesting, fuzz, messages
from tests.parsing.test_split import HAND_MADE
from webmail.parsing import mime
from webmail.parsing.mime import ParsedMessage, parse_message


def without_reader_fields(parsed: ParsedMessage) -> ParsedMessage:
    return dataclasses.replace(parsed, html="", headers=(), forwarded=tuple(
        without_reader_fields(inner) for inner in parsed.forwarded))


def assert_same_stored_fields(raw: bytes) -> None:
    assert parse_message(raw, for_store=True) == without_reader_fields(parse_message(raw))


def test_generated_mail() -> None:
    for raw in generate_mailbox(300, seed=21):
        assert_same_stored_fields(raw)


@pytest.mark.parametrize("raw", HAND_MADE)
def test_hand_made_edge_cases(raw: bytes) -> None:
    assert_same_stored_fields(raw)


def test_the_corpus() -> None:
    files = corpus_files()
    if not files:
        pytest.skip("the shared MIME corpus is not available")
    for path in files:
        assert_same_stored_fields(path.read_bytes())


def test_a_very_long_html_alternative_still_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_BODY_CHARS", 50)
    monkeypatch.setattr("webmail.parsing.parts.MAX_BODY_CHARS", 50)
    raw = (b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
           b"Content-Type: text/plain\r\n\r\nshort\r\n--b\r\nContent-Type: text/html\r\n\r\n"
           + b"<p>" + b"long " * 40 + b"</p>\r\n--b--\r\n")
    stored = parse_message(raw, for_store=True)
    assert stored.warnings and stored.warnings == parse_message(raw).warnings


@fuzz
@given(messages())
def test_fuzzed_mime_trees(raw: bytes) -> None:
    assert_same_stored_fields(raw)


@fuzz
@given(deep_nesting())
def test_deep_nesting(raw: bytes) -> None:
    assert_same_stored_fields(raw)
