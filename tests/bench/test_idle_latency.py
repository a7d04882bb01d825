"""The push benchmark at tiny scale (a few deliveries), so the script cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.dovecot import dovecot_available

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not dovecot_available(),
                    reason="needs Dovecot (scripts/ensure_system_packages.sh)")
def test_the_push_benchmark_stores_each_delivery_and_prints_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.idle_latency", "--count", "3", "--mailbox", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for line in ("floor (bare imaplib IDLE", "ours, listed", "ours, stored"):
        assert re.search(re.escape(line) + r".*median \d+ ms, p95 \d+ ms", result.stdout), line
