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


def test_parameters_are_found_whatever_their_form() -> None:
    from email.message import Message

    from webmail.parsing.parts import header_param

    cases = {
        'attachment; filename="a b.pdf"': "a b.pdf",
        "attachment; FILENAME=x.txt": "x.txt",
        "attachment; filename*=utf-8''%E4%BC%9A.pdf": "会.pdf",
        "attachment; filename*0=ab; filename*1=cd.txt": "abcd.txt",
        "inline": "",
        "attachment; name=only-name.txt": "",
    }
    for value, expected in cases.items():
        part = Message()
        part["Content-Disposition"] = value
        assert header_param(part, "Content-Disposition", "filename") == expected, value
    part = Message()
    part["Content-Type"] = 'text/plain; charset="utf-8"'
    assert header_param(part, "Content-Type", "name") == ""
    assert header_param(part, "Content-Type", "charset") == "utf-8"


def test_defusing_changes_what_the_full_check_changes() -> None:
    from bench.generator import generate_mailbox
    from tests.parsing.corpus import corpus_files
    from webmail.parsing import parts

    def by_regex(raw: bytes) -> bytes:  # _defuse without its shortcuts
        boundaries = iter(range(1 << 30))
        nested = iter(range(1 << 30))
        raw = parts._BOUNDARY_RE.sub(lambda m: m.group(0) if next(boundaries) < 100
                                     else b"xoundary", raw)
        return parts._NESTED_MESSAGE_RE.sub(lambda m: m.group(0) if next(nested) < 100
                                            else m.group(1) + b"messagx/", raw)

    crafted = [b"Content-Type: multipart/mixed; boundary=b%d\r\n" % i * count
               for i, count in ((1, 99), (2, 100), (3, 101), (4, 150))]
    crafted += [b"Content-Type: message/rfc822\r\n" * count for count in (100, 101, 130)]
    crafted += [b"a=b " * 200 + b"BoUnDaRy=x " * 101, b"x:" * 300 + b"Content-type:  message/"]
    samples = [*crafted, *(path.read_bytes() for path in corpus_files()),
               *generate_mailbox(200, seed=4)]
    for raw in samples:
        assert parts._defuse(raw) == by_regex(raw), raw[:80]
    assert parts._defuse(crafted[2]) != crafted[2]  # the 101st boundary is defused
