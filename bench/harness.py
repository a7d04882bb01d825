"""Shared by the sync benchmarks: a fresh site in its own data directory, driven through
manage.py in subprocesses (so each measurement is a real process with its own memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers.dovecot import DovecotServer

ROOT = Path(__file__).resolve().parent.parent
USER = "alice"


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
