"""read_multiline over in-memory streams: every buffer size, so the terminator and the
dot-stuffing fall on every boundary."""

from __future__ import annotations

import io

import pytest

from webmail.protocols.pop3_multiline import EndOfStream, TooLong, read_multiline, unstuff

LONG_LINE = b"x" * 300
MESSAGE = (b"Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nmiddle.\r\n"
           + LONG_LINE + b"\r\nend\r\n")
STUFFED = (b"Subject: dots\r\n\r\n..\r\n...two\r\n..leading\r\nmiddle.\r\n"
           + LONG_LINE + b"\r\nend\r\n.\r\n")


def stream(data: bytes, buffer_size: int) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data), buffer_size=buffer_size)  # type: ignore[arg-type]


@pytest.mark.parametrize("buffer_size", [1, 2, 3, 4, 5, 7, 64, 8192])
def test_the_message_comes_back_unstuffed_and_the_next_answer_stays(buffer_size: int) -> None:
    source = stream(STUFFED + b"+OK next\r\n", buffer_size)
    assert read_multiline(source, limit=10_000) == MESSAGE
    assert source.read() == b"+OK next\r\n"


@pytest.mark.parametrize("buffer_size", [1, 3, 8192])
def test_two_answers_in_a_row_are_read_apart(buffer_size: int) -> None:
    source = stream(b"a\r\n.\r\n" + b".\r\n" + b"..b\r\n.\r\n", buffer_size)
    assert read_multiline(source, limit=100) == b"a\r\n"
    assert read_multiline(source, limit=100) == b""
    assert read_multiline(source, limit=100) == b".b\r\n"


def test_a_last_line_ended_with_a_bare_lf_still_ends_the_answer() -> None:
    assert read_multiline(stream(b"one\r\ntwo\n.\r\n", 8192), limit=100) == b"one\r\ntwo\n"


def test_a_dot_inside_a_line_is_not_the_end() -> None:
    assert read_multiline(stream(b"a.\r\nb\r\n.\r\n", 2), limit=100) == b"a.\r\nb\r\n"


def test_a_connection_closed_before_the_terminator_is_end_of_stream() -> None:
    with pytest.raises(EndOfStream):
        read_multiline(stream(b"Subject: cut\r\n\r\nhalf a mess", 8), limit=1000)


@pytest.mark.parametrize("buffer_size", [16, 8192])
def test_an_answer_beyond_the_limit_is_too_long(buffer_size: int) -> None:
    with pytest.raises(TooLong):
        read_multiline(stream(b"y" * 5000 + b"\r\n.\r\n", buffer_size), limit=1000)


def test_unstuff_removes_one_dot_at_each_line_start() -> None:
    assert unstuff(b"..a\r\n...b\r\nc..\r\n") == b".a\r\n..b\r\nc..\r\n"
