"""The load test at tiny scale (2 people, a few seconds), so the script cannot rot, and
its figures' arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load_report import Record, StepFigures, percentile, row, throughput_at_limit
from tests.servers.dovecot import dovecot_available

ROOT = Path(__file__).resolve().parents[2]


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7
    assert percentile([], 50) == 0


def _step(users: int, throughput: float, p95: float) -> StepFigures:
    total = row("all", [Record(0, "list", p95, True)])
    return StepFigures(users=users, seconds=10, rows=[], total=total,
                       throughput=throughput, logins=0, login_errors=0)


def test_the_limit_is_interpolated_between_the_steps_around_it() -> None:
    steps = [_step(50, 10, 100), _step(100, 20, 200), _step(200, 40, 400)]
    assert throughput_at_limit(steps, 250) == pytest.approx(25)
    assert throughput_at_limit(steps[:2], 250) is None
    assert throughput_at_limit(steps[2:], 250) == 40


@pytest.mark.timeout(600)
@pytest.mark.skipif(not dovecot_available(), reason="Dovecot is not installed")
def test_two_people_browse_search_and_send_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "-m", "bench.load", "--users", "2", "--messages", "10",
               "--steps", "2", "--step-seconds", "12", "--settle-seconds", "2",
               "--think", "0.3:0.8", "--poll", "2", "--deliveries-per-minute", "30",
               "--sync-timeout", "120", "--drain-timeout", "120", "--tour",
               "--json", str(out)]
    database = os.environ.get("DATABASE_URL", "")
    if database.startswith("postgres"):
        command += ["--db", "postgres", "--pg-url", database,
                    "--pg-db", f"webmail_test_load_{os.getpid()}"]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                timeout=540, check=False)
    finally:
        if database.startswith("postgres"):
            _drop(database, f"webmail_test_load_{os.getpid()}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    rows = {r["name"]: r for r in figures["steps"][0]["rows"]}
    # Counted over the whole run: the tour's requests fall in the step's settling
    # seconds, and the weighted mix after it may not send in a short step.
    for name in ("list", "open", "search", "send", "poll"):
        assert figures["counts"].get(name, 0) > 0, name
    assert rows["list"]["count"] > 0
    assert rows["all"]["errors"] == 0
    assert figures["steps"][0]["login_errors"] == 0
    assert figures["synced"] and figures["caught_up"]
    assert figures["received"] == figures["sends"]
    assert figures["duplicates"] == 0
    assert "p50" in rows["list"] and rows["list"]["p95"] >= rows["list"]["p50"]
    assert figures["cpu_ms"]["list"] > 0 and figures["cpu_ms"]["login"] > 0


def _drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
