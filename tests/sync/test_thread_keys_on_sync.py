"""Messages synced from the server are grouped into conversations as they arrive."""

from __future__ import annotations

from accounts.models import User
from tests.conftest import make_account
from tests.servers.dovecot import DovecotServer
from webmail.mail.models import Message
from webmail.mail.threading import key_for_root
from webmail.sync.engine import sync_account

FIRST = b"Message-ID: <root@t>\r\nFrom: a@x.test\r\nSubject: Plan\r\n\r\nHi\r\n"
REPLY = (b"Message-ID: <r1@t>\r\nIn-Reply-To: <root@t>\r\nReferences: <root@t>\r\n"
         b"From: b@x.test\r\nSubject: Re: Plan\r\n\r\nOk\r\n")
OTHER = b"Message-ID: <other@t>\r\nFrom: c@x.test\r\nSubject: Lunch\r\n\r\nNoon\r\n"


def _keys(account_id: int) -> dict[str, str]:
    return dict(Message.objects.filter(account_id=account_id)
                .values_list("message_id", "thread_key"))


def test_imap_sync_threads_a_reply_with_its_parent(
    alice: User, dovecot_user: str, running_dovecot: DovecotServer
) -> None:
    for raw in (FIRST, REPLY, OTHER):
        running_dovecot.deliver(dovecot_user, raw)
    account = make_account(alice, password=running_dovecot.users["alice"],
                           incoming_port=running_dovecot.ports.imap)
    sync_account(account.pk)
    keys = _keys(account.pk)
    assert keys["root@t"] and keys["root@t"] == keys["r1@t"] != keys["other@t"]


def test_pop3_sync_threads_a_reply_with_its_parent(
    alice: User, dovecot_user: str, running_dovecot: DovecotServer
) -> None:
    for raw in (FIRST, REPLY, OTHER):
        running_dovecot.deliver(dovecot_user, raw)
    account = make_account(alice, password=running_dovecot.users["alice"], protocol="pop3",
                           incoming_port=running_dovecot.ports.pop3)
    sync_account(account.pk)
    keys = _keys(account.pk)
    assert keys["root@t"] and keys["root@t"] == keys["r1@t"] != keys["other@t"]


def test_a_late_parent_and_a_message_without_id_in_later_pop3_fetches(
    alice: User, dovecot_user: str, running_dovecot: DovecotServer
) -> None:
    running_dovecot.deliver(dovecot_user, REPLY)
    account = make_account(alice, password=running_dovecot.users["alice"], protocol="pop3",
                           incoming_port=running_dovecot.ports.pop3)
    sync_account(account.pk)
    # The parent comes later and answers a grandparent never seen: its child moves along.
    running_dovecot.deliver(dovecot_user, FIRST.replace(
        b"Subject: Plan", b"References: <grand@t>\r\nSubject: Plan"))
    running_dovecot.deliver(dovecot_user, b"From: d@x.test\r\nSubject: No id\r\n\r\nx\r\n")
    sync_account(account.pk)
    keys = _keys(account.pk)
    assert keys["root@t"] == keys["r1@t"] == key_for_root("grand@t")
    assert keys[""] and keys[""] != keys["root@t"]
