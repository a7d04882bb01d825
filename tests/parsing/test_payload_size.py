"""An attachment's size read from its base64 text (parts.payload_size) must be the
length of what decoding it gives, whatever the text holds."""

from __future__ import annotations

import base64
import random
from email.message import Message

from bench.generator import generate_mailbox
from tests.parsing.corpus import corpus_files
from webmail.parsing.mime import parse_message
from webmail.parsing.parts import base64_size, get_part, payload_bytes, payload_size

# A parsed payload holds ASCII and the surrogates standing for 8-bit bytes.
NOISE = ["=", "==", "\r\n", "\n", "\r", " ", "\t", "*", "-", "_", "A", "Q", "\udcff"]


def _part(text: str, encoding: str = "base64") -> Message:
    part = Message()
    part["Content-Type"] = "application/octet-stream"
    part["Content-Transfer-Encoding"] = encoding
    part.set_payload(text)
    return part


def _texts() -> list[str]:
    rng = random.Random(3)
    texts = []
    for _ in range(4000):
        data = rng.randbytes(rng.randint(0, 40))
        text = base64.encodebytes(data).decode("ascii").replace("\n", rng.choice(
            ["\r\n", "\n", ""]))
        for _ in range(rng.choice([0, 0, 1, 2])):  # damage: cut, insert, change
            at = rng.randint(0, len(text))
            action = rng.random()
            if action < 0.3:
                text = text[:at]
            elif action < 0.7:
                text = text[:at] + rng.choice(NOISE) + text[at:]
            else:
                text = text[:at] + rng.choice("AZaz09+/Q=") + text[at + 1:]
        texts.append(text)
    return texts


def test_sizes_from_the_text_equal_the_decoded_lengths() -> None:
    counted = 0
    for text in _texts():
        part = _part(text)
        assert payload_size(part) == len(payload_bytes(part)), repr(text)
        counted += base64_size(text) is not None
    assert counted > 2000  # most clean texts are counted, not decoded


def test_other_encodings_and_odd_headers_are_decoded_as_before() -> None:
    for encoding in ("quoted-printable", " base64", "BASE64", "7bit", "x-uuencode"):
        part = _part("QUJD\r\nRA==\r\n", encoding)
        assert payload_size(part) == len(payload_bytes(part)), encoding


def test_attachment_sizes_of_real_and_generated_mail_are_the_decoded_ones() -> None:
    raws = [path.read_bytes() for path in corpus_files()] + list(generate_mailbox(120, seed=9))
    seen = 0
    for raw in raws:
        for attachment in parse_message(raw, for_store=True).attachments:
            # What the download of the attachment gives.
            assert attachment.size == len(get_part(raw, attachment.path)), attachment
            seen += 1
    assert seen > 50
