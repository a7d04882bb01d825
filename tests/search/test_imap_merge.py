"""Asking the real IMAP server (Dovecot) about messages whose bodies we lack."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings

from accounts.models import MailAccount, User
from tests.conftest import make_account
from tests.search.factories import make_folder, make_message
from tests.servers.dovecot import DovecotServer
from webmail.mail.models import BodyState
from webmail.search.imap_merge import criterion, split_query
from webmail.search.query import DateBound, Field, Flag, Not, Or, SizeBound, Text, parse
from webmail.search.service import search_messages
from webmail.sync.connect import imap_client_for


def raw(subject: str, body: str) -> bytes:
    return (f"From: Bob <bob@builder.example>\r\nTo: alice@example.test\r\n"
            f"Subject: {subject}\r\nDate: Mon, 4 Mar 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash(subject))}@example.test>\r\n\r\n{body}\r\n").encode()


@pytest.mark.parametrize(("term", "imap"), [
    (Text("zeppelin"), 'TEXT "zeppelin"'),
    (Text('say "hi"', phrase=True), 'TEXT "say \\"hi\\""'),
    (Field("from", "bob"), 'FROM "bob"'),
    (Field("subject", "a b"), 'SUBJECT "a b"'),
    (Flag("unread"), "UNSEEN"),
    (Flag("starred"), "FLAGGED"),
    (DateBound("before", date(2024, 3, 5)), "BEFORE 5-Mar-2024"),
    (DateBound("after", date(2024, 3, 5)), "SINCE 5-Mar-2024"),
    (SizeBound("larger", 2048), "LARGER 2048"),
    (Not(Text("x")), 'NOT (TEXT "x")'),
    (Or((Text("a"), Text("b"), Text("c"))), 'OR (TEXT "a") OR (TEXT "b") (TEXT "c")'),
    (Text("привет"), None),
    (Flag("attachment"), None),
])
def test_terms_translate_to_imap_search(term: object, imap: str | None) -> None:
    assert criterion(term) == imap  # type: ignore[arg-type]


def test_terms_imap_cannot_say_stay_local_and_unsayable_words_stop_the_ask() -> None:
    criteria, local = split_query(parse("zeppelin has:attachment"))
    assert criteria == '(TEXT "zeppelin")'
    assert local.terms == (Flag("attachment"),)
    assert split_query(parse("zeppelin привет"))[0] is None


@pytest.fixture
def pending_account(alice: User, running_dovecot: DovecotServer,
                    dovecot_user: str) -> MailAccount:
    running_dovecot.deliver(dovecot_user, raw("Weekly notes", "The zeppelin lands at noon."))
    running_dovecot.deliver(dovecot_user, raw("Other notes", "Nothing to see."))
    account = make_account(alice, password=running_dovecot.users[dovecot_user])
    account.incoming_port = running_dovecot.ports.imap
    account.save()
    with imap_client_for(account) as client:
        info = client.select("INBOX", readonly=True)
        uids = client.search_uids("ALL")
    folder = make_folder(account)
    folder.uidvalidity = info.uidvalidity
    folder.remote_name = "INBOX"
    folder.save()
    for uid, subject in zip(uids, ("Weekly notes", "Other notes"), strict=True):
        make_message(folder, subject, uidvalidity=info.uidvalidity, uid=uid,
                     body_state=BodyState.HEADERS, search_text="",
                     sender=("Bob", "bob@builder.example"))
    return account


@pytest.mark.django_db
def test_the_server_finds_body_words_we_have_not_downloaded(
        alice: User, pending_account: MailAccount) -> None:
    assert search_messages(alice, "zeppelin").hits == []
    results = search_messages(alice, "zeppelin", ask_server=True)
    assert [h.subject for h in results.hits] == ["Weekly notes"]
    assert results.hits[0].on_server
    assert results.server_errors == []
    assert search_messages(alice, "zeppelin -from:bob", ask_server=True).hits == []


@pytest.mark.django_db
def test_a_server_that_is_away_is_reported_not_raised(
        alice: User, pending_account: MailAccount) -> None:
    pending_account.incoming_port = 1  # nothing listens there
    pending_account.save()
    results = search_messages(alice, "zeppelin", ask_server=True)
    assert results.hits == []
    assert results.server_errors and pending_account.email in results.server_errors[0]


@pytest.mark.django_db
def test_the_page_asks_the_server_only_when_enabled(
        alice: User, alice_client: object, pending_account: MailAccount) -> None:
    page = alice_client.get("/search/", {"q": "zeppelin", "server": "1"})  # type: ignore[attr-defined]
    assert "Weekly notes" not in page.content.decode()
    with override_settings(WEBMAIL_SEARCH_ASK_SERVER=True):
        page = alice_client.get("/search/", {"q": "zeppelin", "server": "1"})  # type: ignore[attr-defined]
    assert "Weekly notes" in page.content.decode()
    assert "found on the server" in page.content.decode()
