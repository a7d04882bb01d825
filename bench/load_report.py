"""Figures of the load test from locust's request records (bench/locustfile.py).

Plain functions over (start, name, milliseconds, ok) records: per step of the ramp, the
p50/p95/p99 of each kind of request, errors and throughput, and the throughput at which
the p95 passes a limit (interpolated between the last step under it and the first over).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

# The rows of the figures, in order; signing in is not part of the steady-state p95.
NAMES = ("list", "open", "body", "search", "compose", "send", "poll")
STEADY = frozenset(NAMES)


@dataclass(frozen=True)
class Record:
    start: float
    name: str
    ms: float
    ok: bool


@dataclass(frozen=True)
class Row:
    name: str
    count: int
    errors: int
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class StepFigures:
    users: int
    seconds: float  # the measured window (the step less its settling time)
    rows: list[Row]
    total: Row  # every steady request of the window
    throughput: float  # steady requests per second in the window
    logins: int
    login_errors: int


def read_records(path: Path) -> tuple[float, list[Record]]:
    """The test's start time and its requests."""
    start = 0.0
    records = []
    with path.open() as lines:
        for line in lines:
            item = json.loads(line)
            if item[0] == "start":
                start = float(item[1])
            else:
                records.append(Record(float(item[0]), str(item[1]), float(item[2]),
                                      bool(item[3])))
    return start, records


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def row(name: str, records: list[Record]) -> Row:
    times = [r.ms for r in records]
    return Row(name, len(records), sum(not r.ok for r in records),
               percentile(times, 50), percentile(times, 95), percentile(times, 99))


def step_figures(start: float, records: list[Record], steps: list[tuple[int, float]],
                 settle: float) -> list[StepFigures]:
    """Figures of each step, counting only requests that start after `settle` seconds
    into the step (new users sign in and the queue adjusts meanwhile)."""
    result = []
    step_start = start
    for users, seconds in steps:
        begin, end = step_start + min(settle, seconds / 2), step_start + seconds
        inside = [r for r in records if begin <= r.start < end]
        steady = [r for r in inside if r.name in STEADY]
        logins = [r for r in records if step_start <= r.start < end and r.name == "login"]
        result.append(StepFigures(
            users=users, seconds=end - begin,
            rows=[row(name, [r for r in inside if r.name == name]) for name in NAMES],
            total=row("all", steady),
            throughput=len(steady) / (end - begin),
            logins=len(logins), login_errors=sum(not r.ok for r in logins),
        ))
        step_start = end
    return result


def throughput_at_limit(steps: list[StepFigures], limit_ms: float) -> float | None:
    """Requests per second where the steps' p95 reaches `limit_ms`, interpolated
    linearly between the last step under it and the first one over; None if no step
    passes it. If the first step already passes it, that step's throughput."""
    previous: StepFigures | None = None
    for step in steps:
        if step.total.p95 > limit_ms:
            if previous is None:
                return step.throughput
            p0, p1 = previous.total.p95, step.total.p95
            t0, t1 = previous.throughput, step.throughput
            return t0 + (limit_ms - p0) * (t1 - t0) / (p1 - p0)
        previous = step
    return None


def format_step(step: StepFigures) -> str:
    lines = [f"{step.users} users, {step.seconds:.0f} s measured: "
             f"{step.throughput:.1f} requests/s, {step.total.errors} errors, "
             f"{step.logins} sign-ins ({step.login_errors} failed)",
             f"  {'request':<8} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8}"]
    for r in [*step.rows, step.total]:
        if r.count:
            lines.append(f"  {r.name:<8} {r.count:>6} {r.errors:>6} {r.p50:>8.0f} "
                         f"{r.p95:>8.0f} {r.p99:>8.0f}")
    return "\n".join(lines)
