"""Run the whole app in the foreground: web, Celery worker, beat, IDLE supervisor, Redis.

Ctrl-C stops all of it. Embedded defaults: SQLite and blobs under ./data, plain http
on 127.0.0.1:8000 (set WEBMAIL_HTTPS=true behind a TLS proxy).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from services import ensure_redis  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PY = str(BIN / "python")


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    url, stop_redis = ensure_redis()
    env = {**os.environ, "REDIS_URL": url}
    env.setdefault("WEBMAIL_HTTPS", "false")
    env.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    data = Path(env.get("WEBMAIL_DATA_DIR", ROOT / "data"))
    data.mkdir(parents=True, exist_ok=True)
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    bind = env.get("WEBMAIL_BIND", "127.0.0.1:8000")
    commands = {
        "web": [str(BIN / "gunicorn"), "webmail.wsgi", "--bind", bind, "--workers", "2",
                "--threads", "4", "--access-logfile", "-"],
        "worker": [str(BIN / "celery"), "-A", "webmail", "worker", "--loglevel", "INFO",
                   "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "webmail", "beat", "--loglevel", "INFO",
                 "--schedule", str(data / "celerybeat-schedule")],
    }
    if (ROOT / "webmail" / "mail" / "management" / "commands" / "idle_supervisor.py").exists():
        commands["idle"] = [*manage, "idle_supervisor"]
    procs = {name: subprocess.Popen(cmd, env=env, cwd=ROOT) for name, cmd in commands.items()}
    print(f"Webmail is at http://{bind}/  (Ctrl-C stops everything)", flush=True)
    code = 0
    try:
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", flush=True)
                    code = proc.returncode or 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_redis()
    return code


if __name__ == "__main__":
    sys.exit(main())
