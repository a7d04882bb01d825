"""Shared by the sync benchmarks: a fresh site in its own data directory, driven through
manage.py in subprocesses (so each measurement is a real process with its own memory)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.dovecot import DovecotServer

ROOT = Path(__file__).resolve().parent.parent
USER = "alice"


@dataclass
class CpuUse:
    """CPU seconds over a measured stretch. `process`: this process and the children it
    waited for (a subprocess and its workers). `machine`: every core together, from
    /proc/stat, so the mail server's work is in it too (and anything else running)."""

    process: float = 0.0
    machine: float = 0.0

    def __str__(self) -> str:
        return f"CPU {self.process:.1f} s ours, {self.machine:.1f} s whole machine"


def _process_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _machine_cpu() -> float:
    """Busy seconds of all cores: every /proc/stat time but idle and iowait."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_use() -> Iterator[CpuUse]:
    """Measure the CPU a stretch of the benchmark takes. With 2 cores, a contender
    whose machine CPU is M seconds cannot finish in under M / 2 seconds of wall time,
    however well its stages overlap: the figure that says where a goal's time goes."""
    used = CpuUse()
    process, machine = _process_cpu(), _machine_cpu()
    yield used
    used.process = _process_cpu() - process
    used.machine = _machine_cpu() - machine


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, input=stdin, capture_output=True, text=True, check=False, cwd=ROOT,
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def fresh_site(server: DovecotServer, data_dir: Path, *, protocol: str,
               port: int) -> tuple[dict[str, str], str]:
    """A new SQLite site under data_dir with one account on the benchmark's Dovecot user.

    Returns the environment for manage.py and the account's id.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webmail.settings",
        "WEBMAIL_DATA_DIR": str(data_dir),
        "WEBMAIL_HTTPS": "false",
        "WEBMAIL_ALLOW_PRIVATE_HOSTS": "true",
        "BENCH_MAIL_PASSWORD": server.users[USER],
    }
    env.pop("DATABASE_URL", None)  # always a fresh SQLite file under data_dir
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c",
           "from accounts.models import User; User.objects.create_user('bench')")
    account_id = manage(
        env, "add_mail_account", "--user", "bench", "--email", "alice@bench.test",
        "--protocol", protocol, "--host", server.host, "--port", str(port),
        "--security", "none", "--username", USER, "--password-env", "BENCH_MAIL_PASSWORD",
    ).strip()
    return env, account_id
