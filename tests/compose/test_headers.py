"""No header can be injected through any field the person types."""

from __future__ import annotations

import pytest

from webmail.compose.builder import OutgoingMessage, build_message
from webmail.compose.headers import (
    HeaderValueError,
    Mailbox,
    clean_address,
    clean_message_ids,
    clean_subject,
    parse_address_list,
)

BREAKS = ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
          "\u2029", "\x00"]


@pytest.mark.parametrize("brk", BREAKS)
def test_a_line_break_in_the_subject_is_refused(brk: str) -> None:
    with pytest.raises(HeaderValueError):
        clean_subject(f"Hello{brk}Bcc: victim@example.org")


@pytest.mark.parametrize("brk", BREAKS)
def test_a_line_break_in_a_display_name_is_refused(brk: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_address_list(f'"Bob{brk}Bcc: victim@example.org" <bob@example.org>', field="To")


@pytest.mark.parametrize("brk", BREAKS)
def test_a_line_break_in_an_address_is_refused(brk: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_address_list(f"bob@example.org{brk}Bcc: victim@example.org", field="To")


@pytest.mark.parametrize("value", [
    "bob", "@example.org", "bob@", "bob@@example.org", "bob smith@example.org",
    '"bob"@example.org', "bob@exa mple.org", "bob@-example.org", "<bob@example.org",
    "a" * 65 + "@example.org", "bob@" + "a" * 250 + ".org",
])
def test_malformed_addresses_are_refused(value: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_address_list(value, field="To")


def test_an_over_long_subject_is_refused() -> None:
    with pytest.raises(HeaderValueError):
        clean_subject("x" * 999)


def test_bidi_overrides_are_refused_in_names() -> None:
    with pytest.raises(HeaderValueError):
        parse_address_list("\u202eevil\u202c <bob@example.org>", field="To")


def test_address_lists_split_on_commas_outside_quotes() -> None:
    got = parse_address_list('"Smith, Bob" <bob@example.org>; carol@example.org, Zoë '
                             "<zoë@exämple.org>", field="To")
    assert got == [Mailbox("Smith, Bob", "bob@example.org"),
                   Mailbox("", "carol@example.org"),
                   Mailbox("Zoë", "zoë@xn--exmple-cua.org")]
    assert got[2].needs_smtputf8 and not got[0].needs_smtputf8


def test_non_ascii_domains_become_idna_so_no_smtputf8_is_needed() -> None:
    assert clean_address("jose@exämple.org") == "jose@xn--exmple-cua.org"


def test_message_ids_from_received_mail_keep_only_well_formed_ones() -> None:
    assert clean_message_ids("<a@b> junk <c@d>\r\nX: y <e f@g>", field="References") == [
        "<a@b>", "<c@d>"]
    assert clean_message_ids(["<a@b>", "<c@d>\r\nBcc: x@y"], field="References") == ["<a@b>"]


@pytest.mark.parametrize("field", ["subject", "to_name", "to_address", "from_name"])
def test_the_builder_refuses_injection_whatever_the_caller_checked(field: str) -> None:
    evil = "x\r\nBcc: victim@example.org"
    sender = Mailbox(evil if field == "from_name" else "Alice", "alice@example.org")
    to = Mailbox(evil if field == "to_name" else "Bob",
                 evil if field == "to_address" else "bob@example.org")
    with pytest.raises(HeaderValueError):
        build_message(OutgoingMessage(sender=sender, to=[to],
                                      subject=evil if field == "subject" else "Hi"))
