"""Run a command with REDIS_URL pointing at a Redis that answers (started if needed)."""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from services import ensure_redis  # noqa: E402

if __name__ == "__main__":
    url, stop = ensure_redis()
    try:
        code = subprocess.call(sys.argv[1:], env={**os.environ, "REDIS_URL": url})
    finally:
        stop()
    sys.exit(code)
