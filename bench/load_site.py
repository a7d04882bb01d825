"""The load test's site, driven inside Django (run by bench/load.py in a subprocess).

    python -m bench.load_site create --users 200 --imap-port P --smtp-port S
    python -m bench.load_site status

`create` makes `users` people (load001, load002...) who all sign in with one password,
each with an IMAP account on the bench's Dovecot user of the same name and SMTP through
the bench's sink, plus an administrator (so the first-run setup page stays away), then
queues one sync per account. `status` prints the store's counts as JSON. Both print one
JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

WEB_PASSWORD = "load-bench-Pw-1"  # noqa: S105 - a throwaway bench site's password


def person_name(index: int) -> str:
    """The web user, Dovecot user and SMTP user of the index-th person (1-based)."""
    return f"load{index:03d}"


def mail_password(name: str) -> str:
    return f"{name}-mail-pw"


def create(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from accounts.models import MailAccount, Security, User
    from webmail.compose.identities import ensure_default_identity
    from webmail.sync.tasks import sync_account_task

    # One hash for everyone: PBKDF2 costs ~0.3 s a hash here, 200 of them a minute.
    # Signing in still checks it once per session, as a real login does.
    hashed = make_password(WEB_PASSWORD)
    accounts: list[int] = []
    with transaction.atomic():
        User.objects.create_superuser("load-admin", "admin@bench.test", None)
        for index in range(1, args.users + 1):
            name = person_name(index)
            user = User.objects.create(username=name, password=hashed,
                                       email=f"{name}@bench.test")
            account = MailAccount(
                owner=user, email=f"{name}@bench.test", display_name=f"Load {index}",
                incoming_host=args.host, incoming_port=args.imap_port,
                incoming_security=Security.NONE, incoming_username=name,
                smtp_host=args.host, smtp_port=args.smtp_port,
                smtp_security=Security.STARTTLS,
            )
            account.set_incoming_password(mail_password(name))
            account.save()
            ensure_default_identity(account)
            accounts.append(account.pk)
    for account_id in accounts:
        sync_account_task.delay(account_id)
    return {"users": args.users, "accounts": len(accounts)}


def status() -> dict[str, Any]:
    from django.db.models import Count

    from accounts.models import MailAccount
    from webmail.compose.models import Outbox
    from webmail.mail.models import BodyState, Message, OperationState, UpstreamOperation

    states = dict(Outbox.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {
        "messages": Message.objects.count(),
        "inbox": Message.objects.filter(folder__role="inbox").count(),
        "bodies": Message.objects.filter(body_state=BodyState.FULL).count(),
        "synced_accounts": MailAccount.objects.filter(last_sync_at__isnull=False).count(),
        "accounts_with_error": MailAccount.objects.exclude(last_error="").count(),
        "outbox": states,
        "operations_pending": UpstreamOperation.objects.filter(
            state=OperationState.PENDING).count(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("create")
    make.add_argument("--users", type=int, required=True)
    make.add_argument("--host", default="127.0.0.1")
    make.add_argument("--imap-port", type=int, required=True)
    make.add_argument("--smtp-port", type=int, required=True)
    sub.add_parser("status")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    result = create(args) if args.command == "create" else status()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
