"""`healthcheck`: exit 0 when this process's dependencies answer and it shows it is alive.

For container health checks of the processes that serve no HTTP: the database and the
broker must answer (as for GET /healthz), and optionally an IDLE supervisor's heartbeat
row must be current, or a file the process rewrites (celery beat's schedule) must be
recent.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from webmail.health import failing_dependencies
from webmail.mail.models import IdleSupervisor


class Command(BaseCommand):
    help = "Exit non-zero unless the database, the broker and the named heartbeat are alive."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--idle-supervisor", metavar="OWNER",
                            help="Require this IDLE supervisor's heartbeat to be current.")
        parser.add_argument("--fresh-file", type=Path, metavar="PATH",
                            help="Require PATH (or PATH.*) to be modified within --max-age.")
        parser.add_argument("--max-age", type=float, default=600.0,
                            help="Seconds for --fresh-file (default 600).")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = failing_dependencies()
        owner = options["idle_supervisor"]
        if owner and not IdleSupervisor.objects.filter(
                owner=owner, expires_at__gt=timezone.now()).exists():
            failed.append(f"IDLE supervisor {owner} heartbeat")
        path: Path | None = options["fresh_file"]
        if path is not None:
            # dbm adds a suffix to the name on some builds (celery beat's shelve).
            ages = [time.time() - candidate.stat().st_mtime
                    for candidate in [path, *path.parent.glob(f"{path.name}.*")]
                    if candidate.exists()]
            if not ages or min(ages) > options["max_age"]:
                failed.append(f"{path} not modified within {options['max_age']:.0f} s")
        if failed:
            raise CommandError("unhealthy: " + ", ".join(failed))
        self.stdout.write("ok")
