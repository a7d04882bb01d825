"""Shortcuts in the parse and the row values must give what the plain code gives."""

from __future__ import annotations

import random
import re

from webmail.mail.text_values import clean_text, has_surrogates
from webmail.parsing.mime import SNIPPET_LENGTH, _snippet

PIECES = ["word", "Größe", "会議", " ", "  ", "\n", "\r\n\t", "\xa0", "\u3000", "x" * 150,
          "\udcff", "a.b", "\x85", "\u2028"]


def _texts(count: int) -> list[str]:
    rng = random.Random(5)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 120)))
            for _ in range(count)]


def test_the_snippet_from_a_prefix_is_the_snippet_of_the_whole_text() -> None:
    for text in _texts(3000):
        assert _snippet(text) == " ".join(text[: SNIPPET_LENGTH * 20].split())[
            :SNIPPET_LENGTH], repr(text)


def test_surrogates_are_found_as_the_regex_finds_them() -> None:
    pattern = re.compile("[\ud800-\udfff]")
    for text in [*_texts(2000), "", "ascii", "\ud800", "é\udfff", "\U0001f600"]:
        assert has_surrogates(text) == bool(pattern.search(text)), repr(text)
    assert clean_text("caf\udcc3\udca9") == "café"
    assert clean_text("ok é") == "ok é"
