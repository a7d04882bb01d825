"""Add a mail account without prompts; prints the new account's id.

The password comes from the environment variable named by --password-env, or from
stdin: never from the command line, where `ps` would show it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import DEFAULT_PORTS, MailAccount, Protocol, Security, User


class Command(BaseCommand):
    help = "Add a mail account to a user (non-interactive)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username of the owner.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--display-name", default="")
        parser.add_argument("--protocol", choices=Protocol.values, default=Protocol.IMAP)
        parser.add_argument("--host", required=True, help="Incoming (IMAP/POP3) host.")
        parser.add_argument("--port", type=int)
        parser.add_argument("--security", choices=Security.values, default=Security.TLS)
        parser.add_argument("--username", help="Incoming username (default: --email).")
        parser.add_argument("--password-env", help="Read the password from this variable.")
        parser.add_argument("--smtp-host", default="")
        parser.add_argument("--smtp-port", type=int)
        parser.add_argument("--smtp-security", choices=Security.values, default=Security.STARTTLS)
        parser.add_argument("--smtp-username", default="", help="Default: same as incoming.")
        parser.add_argument("--smtp-password-env", help="Default: same as incoming.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            owner = User.objects.get(username=options["user"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {options['user']!r}.") from exc
        password = self._password(options["password_env"])
        protocol, security = options["protocol"], options["security"]
        smtp_security = options["smtp_security"]
        account = MailAccount(
            owner=owner,
            email=options["email"],
            display_name=options["display_name"],
            protocol=protocol,
            incoming_host=options["host"],
            incoming_port=options["port"] or DEFAULT_PORTS[(protocol, security)],
            incoming_security=security,
            incoming_username=options["username"] or options["email"],
            smtp_host=options["smtp_host"],
            smtp_port=options["smtp_port"] or DEFAULT_PORTS[("smtp", smtp_security)],
            smtp_security=smtp_security,
        )
        account.set_incoming_password(password)
        if options["smtp_username"] or options["smtp_password_env"]:
            account.smtp_same_credentials = False
            account.smtp_username = options["smtp_username"] or account.incoming_username
            account.set_smtp_password(
                self._env(options["smtp_password_env"]) if options["smtp_password_env"]
                else password
            )
        account.full_clean(exclude=["owner"])
        account.save()
        self.stdout.write(str(account.pk))

    def _password(self, env_name: str | None) -> str:
        if env_name:
            return self._env(env_name)
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("Give the password on stdin or name a variable with --password-env.")
        return password

    @staticmethod
    def _env(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise CommandError(f"The environment variable {name} is empty or not set.")
        return value
