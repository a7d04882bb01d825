"""One foreground sync of an account: `sync_account <id or email> [--json]`."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import MailAccount
from webmail.protocols.errors import ProtocolError
from webmail.sync.engine import sync_account
from webmail.sync.lease import LeaseBusy


class Command(BaseCommand):
    help = "Sync one mail account now, in the foreground."
    # Scripts and benchmarks run this often; the checks belong to deploy time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="Account id or email address.")
        parser.add_argument("--json", action="store_true", help="Print JSON stats.")

    def handle(self, *args: Any, **options: Any) -> None:
        account = _find(options["account"])
        # When the sync itself began (epoch seconds), for benchmarks that time what a
        # running worker would see, without this process's start-up.
        started_at = time.time()
        try:
            stats = sync_account(account.pk)
        except LeaseBusy as exc:
            raise CommandError(f"{account.email} is being synced already.") from exc
        except ProtocolError as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"account_id": account.pk, "errors": [str(exc)]}))
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({**stats.as_dict(), "started_at": started_at}))
        else:
            self.stdout.write(
                f"{account.email}: {stats.messages_fetched} messages, "
                f"{stats.bytes_fetched} bytes in {stats.seconds.get('total', 0):.2f} s"
            )


def _find(key: str) -> MailAccount:
    accounts = (
        MailAccount.objects.filter(pk=int(key)) if key.isdigit()
        else MailAccount.objects.filter(email__iexact=key)
    )
    found = list(accounts[:2])
    if len(found) != 1:
        raise CommandError(
            f"No mail account {key!r}." if not found else f"Several accounts match {key!r}."
        )
    return found[0]
