"""IMAP first-sync benchmark: ours against bare imaplib and mbsync on the same mailbox.

    .venv/bin/python -m bench.imap_sync [--count 10000] [--seed 1] [--profile out.txt]

Starts a private Dovecot like the test fixture (tests/servers; quota raised to 4 GB),
delivers `count` generated messages (bench/generator.py) to the INBOX of one user, then
measures in one run:

- floor: bare imaplib, `UID FETCH 1:* (UID FLAGS BODY.PEEK[])`, bytes discarded;
- mbsync (Debian's isync): pull the INBOX into an empty Maildir (a C program that only
  writes files);
- ours: `manage.py sync_account <id> --json` in a subprocess with a fresh SQLite
  database and blob directory: headers, then bodies stored, parsed and indexed. The
  "message list present" time is from the process start until the database holds a
  row for every message, as a reader sees it (counted every 50 ms while it runs);
- a no-change resync (a second `sync_account`), the engine's own time and the process's;
- the peak RSS of our first sync (os.wait4 for that child; RUSAGE_CHILDREN printed too).

Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from bench.generator import generate_mailbox
from bench.harness import USER, CpuUse, cpu_use, fresh_site
from tests.servers import dovecot as dovecot_module
from tests.servers.dovecot import DovecotServer
from tests.servers.tls import make_test_certificates

ROOT = Path(__file__).resolve().parent.parent



def deliver(server: DovecotServer, count: int, seed: int) -> int:
    start = time.perf_counter()
    total = 0

    def counted() -> Iterator[bytes]:
        nonlocal total
        for raw in generate_mailbox(count, seed):
            total += len(raw)
            yield raw

    server.deliver_many(USER, counted())
    print(f"delivered {count} messages, {total / 1e6:.1f} MB, "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    return total


def floor(server: DovecotServer) -> tuple[float, int]:
    """Bare imaplib: one UID FETCH of everything. Returns (seconds, bytes)."""
    start = time.perf_counter()
    conn = imaplib.IMAP4(server.host, server.ports.imap, timeout=120)
    conn.login(USER, server.users[USER])
    conn.select("INBOX", readonly=True)
    _typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    size = sum(len(item[1]) for item in data if isinstance(item, tuple))
    del data
    conn.logout()
    return time.perf_counter() - start, size


def mbsync(server: DovecotServer, work: Path) -> float:
    target = work / "maildir"
    target.mkdir()
    config = work / "mbsyncrc"
    config.write_text(f"""IMAPAccount bench
Host {server.host}
Port {server.ports.imap}
User {USER}
Pass {server.users[USER]}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {target}/
Inbox {target}/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
""")
    start = time.perf_counter()
    result = subprocess.run(["mbsync", "-q", "-c", str(config), "bench"],
                            capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"mbsync failed:\n{result.stderr[-2000:]}")
    return seconds


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            pending.append(child)
    return found


def _stored_rows(database: Path) -> int:
    """Messages in the site's database, read as another process would (WAL: the writer
    is not blocked)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True,
                                     timeout=0.05)) as conn:
            return int(conn.execute("SELECT count(*) FROM mail_message").fetchone()[0])
    except sqlite3.Error:
        return 0


def run_ours_measured(env: dict[str, str], account_id: str, profile: str = "",
                      watch: tuple[Path, int] | None = None,
                      ) -> tuple[float, dict[str, object], int, int, float]:
    """Run sync_account; returns (seconds, stats, peak kB of the sync process, peak kB
    of its largest parsing worker, seconds until the database held `watch`'s count of
    messages, NaN when not watched or never reached).

    Peaks are each process's VmHWM, sampled from /proc while it runs. Not ru_maxrss from
    wait4: a child's ru_maxrss starts at its parent's RSS at fork time (Linux records
    the old address space's high-water mark at exec), so after the floor's 300 MB FETCH
    in this process every child reported about 330 MB however little it used.
    """
    command = [sys.executable, str(ROOT / "manage.py"), "sync_account", account_id, "--json"]
    if profile:
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--idle",
                   "-f", "raw", "-o", profile, "--", *command]
    peaks: dict[int, int] = {}
    present = float("nan")
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start, start_epoch = time.perf_counter(), time.time()
        proc = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file, cwd=ROOT)
        while proc.poll() is None:
            for pid in [proc.pid, *_descendants(proc.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), _status_kb(pid, "VmHWM"))
            if watch and present != present and _stored_rows(watch[0]) >= watch[1]:
                present = time.perf_counter() - start  # (NaN != NaN: not seen yet)
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        if proc.returncode:
            raise SystemExit(f"sync_account failed:\n{err_file.read().decode()[-3000:]}")
        # py-spy prints its own lines around ours: the stats are the JSON line.
        lines = [ln for ln in out_file.read().decode().splitlines() if ln.startswith("{")]
    main_pid = proc.pid if not profile else next(
        (pid for pid in peaks if pid != proc.pid), proc.pid)
    workers = [kb for pid, kb in peaks.items() if pid not in (proc.pid, main_pid)]
    stats = json.loads(lines[-1])
    # The command's own start-up (interpreter, Django, imports), which a running worker
    # does not pay: from the process start to the sync's start.
    stats["startup"] = float(stats.get("started_at", start_epoch)) - start_epoch
    return seconds, stats, peaks.get(main_pid, 0), max(workers, default=0), present


def _engine_seconds(stats: dict[str, object]) -> float:
    seconds = stats.get("seconds")
    return float(seconds.get("total", 0.0)) if isinstance(seconds, dict) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-baselines", action="store_true",
                        help="Only ours (e.g. the 20,000-message memory run).")
    parser.add_argument("--resyncs", type=int, default=5,
                        help="No-change resyncs to run; the median is reported.")
    parser.add_argument("--profile", default="",
                        help="Run our first sync under py-spy; raw stacks to this file.")
    args = parser.parse_args()

    dovecot_module.QUOTA_LIMIT = "4G"  # the fixture's 100 MB quota is for tests
    server = DovecotServer(make_test_certificates())
    server.start()
    work = Path(tempfile.mkdtemp(prefix="webmail-bench-imap-"))
    try:
        deliver(server, args.count, args.seed)
        floor(server)  # warm Dovecot's index and the page cache for every contender
        floor_seconds = mbsync_seconds = float("nan")
        floor_cpu = mbsync_cpu = CpuUse()
        if not args.skip_baselines:
            with cpu_use() as floor_cpu:
                floor_seconds, floor_bytes = floor(server)
            print(f"floor (imaplib UID FETCH 1:* BODY.PEEK[]): {floor_seconds:.2f} s, "
                  f"{floor_bytes / 1e6:.1f} MB, {floor_cpu}", flush=True)
            with cpu_use() as mbsync_cpu:
                mbsync_seconds = mbsync(server, work)
            print(f"mbsync (isync, to a Maildir): {mbsync_seconds:.2f} s, {mbsync_cpu}",
                  flush=True)
        env, account_id = fresh_site(server, work / "data", protocol="imap",
                                     port=server.ports.imap)
        with cpu_use() as our_cpu:
            our_seconds, stats, peak_kb, worker_kb, present = run_ours_measured(
                env, account_id, args.profile,
                watch=(work / "data" / "webmail.sqlite3", args.count))
        phases: dict[str, float] = stats["seconds"]  # type: ignore[assignment]
        # The engine's own account: the process's time outside its phases (start-up and
        # exit: the exit is not before the list is there) plus the phases up to headers.
        outside = our_seconds - phases.get("total", our_seconds)
        by_phases = outside + sum(phases.get(p, 0.0) for p in
                                  ("connect", "replay", "folders", "headers"))
        print(f"ours (sync_account --json): {our_seconds:.2f} s, "
              f"{stats['messages_fetched']} messages, {stats['bytes_fetched']} bytes, "
              f"phases {phases}", flush=True)
        # Several no-change resyncs (the machine is shared): the median is quoted.
        resyncs = [run_ours_measured(env, account_id) for _ in range(args.resyncs)]
        resyncs.sort(key=lambda r: _engine_seconds(r[1]))
        resync_seconds, resync_stats = resyncs[len(resyncs) // 2][:2]
        resync_phases: dict[str, float] = resync_stats["seconds"]  # type: ignore[assignment]
        resync_all = [round(_engine_seconds(r[1]), 3) for r in resyncs]
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)

    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    engine_resync = resync_phases.get("total", 0.0)
    print()
    startup = float(stats["startup"])  # type: ignore[arg-type]
    print(f"message list present after: {present:.2f} s from process start, every row "
          f"in the database as a reader sees it (goal < 3 s); {present - startup:.2f} s "
          f"from the sync's start, as in a running worker ({startup:.2f} s of command "
          f"start-up); start-up, exit and phases up to headers: {by_phases:.2f} s")
    print(f"first sync: ours {our_seconds:.2f} s, mbsync {mbsync_seconds:.2f} s, "
          f"floor {floor_seconds:.2f} s")
    print(f"ratio ours/mbsync: {our_seconds / mbsync_seconds:.2f}x (goal <= 1.5x); "
          f"ours/floor: {our_seconds / floor_seconds:.2f}x; "
          f"mbsync/floor: {mbsync_seconds / floor_seconds:.2f}x")
    cores = os.cpu_count() or 1
    print(f"CPU seconds (this process and children / whole machine, Dovecot included): "
          f"floor {floor_cpu.process:.1f} / {floor_cpu.machine:.1f}, "
          f"mbsync {mbsync_cpu.process:.1f} / {mbsync_cpu.machine:.1f}, "
          f"ours {our_cpu.process:.1f} / {our_cpu.machine:.1f}; on {cores} cores ours "
          f"cannot take under {our_cpu.machine / cores:.2f} s, whatever overlaps")
    print(f"no-change resync (median of {len(resync_all)}): engine {engine_resync:.3f} s "
          f"(goal < 0.1 s; all {resync_all}), whole process {resync_seconds:.2f} s, "
          f"fetched {resync_stats['messages_fetched']}, phases {resync_phases}")
    print(f"peak RSS of our first sync (VmHWM): {peak_kb / 1024:.0f} MB (goal < 200 MB), "
          f"largest parsing worker {worker_kb / 1024:.0f} MB; RUSAGE_CHILDREN max "
          f"{children_peak_mb:.0f} MB (inherits this process's RSS at fork: not a measure)")


if __name__ == "__main__":
    main()
