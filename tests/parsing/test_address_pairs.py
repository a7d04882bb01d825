"""The plain-form path of address parsing (charsets.plain_address_pairs) must give what
email.utils.getaddresses gives, on every input it accepts."""

from __future__ import annotations

import email.utils
import random
import re
from email.parser import BytesParser
from email.policy import compat32

from bench.generator import generate_mailbox
from tests.parsing.corpus import corpus_files
from webmail.parsing.charsets import parse_address_pairs, plain_address_pairs

# Pieces random address lists are made of: plain forms, and the syntax that must send a
# value to the stdlib (quotes, comments, groups, routes, brackets, escapes, dots).
TOKENS = ["Ann", "Lee", "J.", "Müller", "=?utf-8?b?5bGx55Sw?=", "a@b.c", "x.y@mail.example",
          "bad@", "@x.y", "<", ">", ",", " ", "  ", "\t", '"', "(c)", ":", ";", "\\", ".",
          "[", "]", "o'hara@ex.io", "=?iso-8859-1?q?J=F6rg?=", "\xa0", "@"]


def _random_values(count: int) -> list[str]:
    rng = random.Random(7)
    values = []
    for _ in range(count):
        values.append("".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 9))))
        name = " ".join(rng.choice(["Ann", "Lee", "J.", "Müller", "Bo\tBo"])
                        for _ in range(rng.randint(0, 3)))
        values.append(", ".join(f"{name} <{rng.choice(['a@b.c', 'x.y@mail.example'])}>"
                                for _ in range(rng.randint(1, 3))))
    return values


def _header_values() -> list[str]:
    raws = [path.read_bytes() for path in corpus_files()] + list(generate_mailbox(300, seed=3))
    values = []
    for raw in raws:
        message = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        for name, value in message.raw_items():
            if name.lower() in {"from", "to", "cc", "reply-to", "sender", "bcc"}:
                values.append(re.sub(r"[\r\n]+", " ", re.sub(r"\r?\n(?=[ \t])", "", value)))
    return values


def test_plain_forms_are_read_as_the_stdlib_reads_them() -> None:
    accepted = 0
    for value in _random_values(3000) + _header_values():
        fast = plain_address_pairs(value)
        if fast is not None:
            accepted += 1
            assert fast == email.utils.getaddresses([value]), value
    assert accepted > 1000  # the fast path is taken, not only the stdlib's


def test_other_forms_still_go_to_the_stdlib() -> None:
    assert plain_address_pairs('"Lee, Ann" <a@b.c>') is None
    assert plain_address_pairs("a@b.c (Ann)") is None
    assert plain_address_pairs("team: a@b.c;") is None
    assert plain_address_pairs("a@b.c,") is None
    assert parse_address_pairs('"Lee, Ann" <a@b.c>, bo@x.io') == [("Lee, Ann", "a@b.c"),
                                                                  ("", "bo@x.io")]
    assert parse_address_pairs("=?utf-8?b?5bGx55Sw?= <yamada@example.jp>") == [
        ("山田", "yamada@example.jp")]
