"""`idle_supervisor`: hold IMAP IDLE for a share of the accounts until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from webmail.sync.idle import IdleSettings, Supervisor


class Command(BaseCommand):
    help = "Push: hold IDLE on the INBOX of active IMAP accounts and queue syncs on change."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = IdleSettings()
        parser.add_argument("--owner", default=None, help="Supervisor id (default: random).")
        parser.add_argument("--lease-seconds", type=float, default=defaults.lease_seconds,
                            help="How long an account stays claimed without renewal.")
        parser.add_argument("--renew-seconds", type=float, default=defaults.renew_seconds,
                            help="How often leases are renewed and accounts rebalanced.")

    def handle(self, *args: Any, **options: Any) -> None:
        settings = IdleSettings(lease_seconds=options["lease_seconds"],
                                renew_seconds=options["renew_seconds"])
        supervisor = Supervisor(options["owner"], settings=settings)
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"IDLE supervisor {supervisor.owner} running.")
        try:
            supervisor.run_forever(stop)
        finally:
            supervisor.stop()  # releases the leases: others take over at once
            self.stdout.write(f"IDLE supervisor {supervisor.owner} stopped.")
