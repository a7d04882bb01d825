

def test_raw_utf8_in_a_message_id_is_read_as_utf8_not_surrogates() -> None:
    from webmail.parsing.mime import parse_message

    parsed = parse_message("Message-ID: <plan.ü@x>\r\nSubject: s\r\n\r\nb\r\n".encode())
    assert parsed.message_id == "plan.ü@x"
    parsed = parse_message(b"Message-ID: <plan.\xfc@x>\r\nSubject: s\r\n\r\nb\r\n")
    assert parsed.message_id.encode("utf-8")  # no lone surrogates left
