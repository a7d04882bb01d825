"""Operations tests: the documented commands run as an operator runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(settings_dict: dict[str, object], name: str | None = None) -> str:
    """DATABASE_URL for the test run's own database (or another on the same server)."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{name or settings_dict['NAME']}"
    user = quote(str(settings_dict.get("USER") or ""))
    password = quote(str(settings_dict.get("PASSWORD") or ""))
    login = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{login}{host}:{port}/{name or settings_dict['NAME']}"


def manage(*args: str, data_dir: Path, database: str, blob_root: Path,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python manage.py ...` with the production settings, as an operator would."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    environment.update({
        "DATABASE_URL": database,
        "WEBMAIL_DATA_DIR": str(data_dir),
        "WEBMAIL_BLOB_ROOT": str(blob_root),
        # The same keys as the test run: what a restore on a new machine must be given.
        "WEBMAIL_CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "WEBMAIL_HTTPS": "false",
    })
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP server (moto's), on a free loopback port."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
