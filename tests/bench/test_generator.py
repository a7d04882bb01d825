from __future__ import annotations

from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

from bench.generator import generate_mailbox, generate_with_meta


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert list(generate_mailbox(60, seed=7)) == list(generate_mailbox(60, seed=7))


def test_another_seed_gives_another_mailbox() -> None:
    assert list(generate_mailbox(20, seed=1)) != list(generate_mailbox(20, seed=2))


def test_a_mailbox_of_500_averages_between_20_and_40_kb() -> None:
    sizes = [len(raw) for raw in generate_mailbox(500)]
    assert 20_000 <= sum(sizes) / len(sizes) <= 40_000
    assert max(sizes) > 200_000


def test_every_message_parses_and_uses_crlf_only() -> None:
    parser = BytesParser(policy=policy.compat32)
    for raw in generate_mailbox(500):
        message = parser.parsebytes(raw)
        assert message["Message-ID"]
        assert message["Date"]
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert b"\r" not in raw.replace(b"\r\n", b"")


def test_the_mailbox_has_the_variety_a_real_one_has() -> None:
    items = list(generate_with_meta(500))
    metas = [meta for _raw, meta in items]
    assert {m["kind"] for m in metas} == {"plain", "newsletter", "attachment"}
    assert {"iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "utf-8"} <= {
        m["charset"] for m in metas
    }
    assert sum(1 for m in metas if m["in_reply_to"]) > 50
    assert len({m["date"].year for m in metas}) >= 5
    assert any(max(len(line) for line in raw.split(b"\r\n")) > 2048 for raw, _ in items)
    assert any(b"=?koi8-r?B?" in raw for raw, _ in items)
    assert any(b"=?shift_jis?B?" in raw for raw, _ in items)


def test_meta_subjects_match_the_decoded_headers() -> None:
    parser = BytesParser(policy=policy.compat32)
    for raw, meta in generate_with_meta(200, seed=3):
        message = parser.parsebytes(raw)
        assert str(make_header(decode_header(message["Subject"]))) == meta["subject"]
        assert meta["has_attachment"] == bool(meta["attachments"])


def test_replies_point_at_an_earlier_message_of_the_mailbox() -> None:
    seen: set[str] = set()
    for _raw, meta in generate_with_meta(300):
        if meta["in_reply_to"]:
            assert meta["in_reply_to"] in seen
            assert meta["subject"].startswith("Re: ")
        seen.add(meta["message_id"])
