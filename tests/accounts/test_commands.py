from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import MailAccount
from tests.conftest import make_user


@pytest.mark.django_db
def test_add_mail_account_reads_the_password_from_the_named_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_user("alice")
    monkeypatch.setenv("ALICE_IMAP_PW", "from-env")
    out = io.StringIO()
    call_command(
        "add_mail_account", "--user", "alice", "--email", "alice@example.test",
        "--host", "imap.example.test", "--security", "tls", "--password-env", "ALICE_IMAP_PW",
        "--smtp-host", "smtp.example.test", stdout=out,
    )
    account = MailAccount.objects.get(pk=int(out.getvalue().strip()))
    assert account.incoming_port == 993
    assert account.smtp_port == 587
    assert account.incoming_username == "alice@example.test"
    assert account.incoming_password() == "from-env"
    assert account.smtp_login() == ("alice@example.test", "from-env")


@pytest.mark.django_db
def test_add_mail_account_reads_the_password_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    make_user("alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    out = io.StringIO()
    call_command(
        "add_mail_account", "--user", "alice", "--email", "a@example.test",
        "--protocol", "pop3", "--host", "pop.example.test", "--security", "starttls",
        stdout=out,
    )
    account = MailAccount.objects.get(pk=int(out.getvalue().strip()))
    assert (account.protocol, account.incoming_port) == ("pop3", 110)
    assert account.incoming_password() == "from-stdin"


@pytest.mark.django_db
def test_add_mail_account_for_an_unknown_user_fails_clearly() -> None:
    with pytest.raises(CommandError, match="No user named"):
        call_command("add_mail_account", "--user", "nobody", "--email", "a@example.test",
                     "--host", "h", "--password-env", "PATH")
