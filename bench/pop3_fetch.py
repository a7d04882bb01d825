"""POP3 fetch benchmark: our sync against a bare poplib UIDL + RETR of the same mailbox.

    .venv/bin/python -m bench.pop3_fetch [--count 10000] [--seed 1]

Starts a private Dovecot like the test fixture (tests/servers), delivers `count`
generated messages (bench/generator.py) to one POP3 user, then in one run:

- floor: poplib, UIDL then RETR of every message (bytes discarded), best of two runs;
- our client alone: Pop3Client's UIDL and pipelined retr_many, bytes discarded (what
  our protocol layer costs, beside the floor);
- ours: `manage.py sync_account <id> --json` in a subprocess, fresh SQLite database and
  blob directory, policy "keep", so it does everything a real first fetch does
  (parse, compress, store, commit).

Prints both times, the ratio (goal: within 1.5x) and the sync process's peak memory
(goal: under 200 MB). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import poplib
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generator import generate_mailbox
from bench.harness import USER, CpuUse, cpu_use, fresh_site
from tests.servers import dovecot as dovecot_module
from tests.servers.dovecot import DovecotServer
from tests.servers.tls import make_test_certificates
from webmail.protocols.pop3 import Pop3Client
from webmail.protocols.tls import ServerEndpoint

ROOT = Path(__file__).resolve().parent.parent



def deliver(server: DovecotServer, count: int, seed: int) -> int:
    start = time.perf_counter()
    total = 0

    def counted() -> object:
        nonlocal total
        for raw in generate_mailbox(count, seed):
            total += len(raw)
            yield raw

    server.deliver_many(USER, counted())  # type: ignore[arg-type]
    print(f"delivered {count} messages, {total / 1e6:.1f} MB, "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    return total


def floor(server: DovecotServer) -> tuple[float, int]:
    """Bare poplib: UIDL + RETR of everything. Returns (seconds, bytes)."""
    poplib._MAXLINE = 1 << 24  # type: ignore[attr-defined]  # real mail has long lines
    start = time.perf_counter()
    conn = poplib.POP3(server.host, server.ports.pop3, timeout=60)
    conn.user(USER)
    conn.pass_(server.users[USER])
    _, lines, _ = conn.uidl()
    size = 0
    for line in lines:
        number = int(line.split()[0])
        _, body, _ = conn.retr(number)
        size += sum(len(part) + 2 for part in body)
    conn.quit()
    return time.perf_counter() - start, size


def client_only(server: DovecotServer) -> tuple[float, int]:
    """Our protocol layer alone: Pop3Client UIDL + retr_many (pipelined RETR, block
    reads), bytes discarded. Shows what the client costs against poplib's floor."""
    start = time.perf_counter()
    endpoint = ServerEndpoint(host=server.host, port=server.ports.pop3, security="none",
                              username=USER, password=server.users[USER], timeout=60)
    size = 0
    with Pop3Client(endpoint) as client:
        numbers = [entry.number for entry in client.uidl().entries]
        for _, raw in client.retr_many(numbers):
            size += len(raw)
    return time.perf_counter() - start, size


def ours(server: DovecotServer, data_dir: Path, profile: str = "",
         ) -> tuple[float, dict[str, object], int, CpuUse]:
    """Our sync in a fresh process and database. Returns (seconds, stats, peak RSS KB,
    CPU of the sync alone)."""
    env, account_id = fresh_site(server, data_dir, protocol="pop3", port=server.ports.pop3)
    with cpu_use() as used:
        seconds, stats, peak_kb = _sync(env, account_id, profile)
    return seconds, stats, peak_kb, used


def _sync(env: dict[str, str], account_id: str, profile: str,
          ) -> tuple[float, dict[str, object], int]:
    start = time.perf_counter()
    command = [sys.executable, str(ROOT / "manage.py"), "sync_account", account_id, "--json"]
    if profile:
        # Collapsed stacks of CPU samples, by process (the parsing workers too) and
        # thread (the writer's apart from the fetching one).
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses",
                   "--threads", "-f", "raw", "-o", profile, "--", *command]
    proc = subprocess.Popen(
        command,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN is the max over all children).
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    if status:
        raise SystemExit(f"sync_account failed:\n{err.decode()[-3000:]}")
    # py-spy prints its own lines around ours: the stats are the JSON line.
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    return seconds, json.loads(lines[-1]), usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="",
                        help="Run our sync under py-spy; collapsed stacks to this file.")
    args = parser.parse_args()

    dovecot_module.QUOTA_LIMIT = "4G"  # the fixture's 100 MB quota is for tests
    tls = make_test_certificates()
    server = DovecotServer(tls)
    server.start()
    try:
        deliver(server, args.count, args.seed)
        floor(server)  # warm Dovecot's index and the page cache for both contenders
        with cpu_use() as floor_cpu:
            floor_seconds, floor_bytes = floor(server)
        print(f"floor (poplib UIDL + RETR): {floor_seconds:.2f} s, "
              f"{floor_bytes / 1e6:.1f} MB, {floor_cpu}", flush=True)
        with cpu_use() as client_cpu:
            client_seconds, client_bytes = client_only(server)
        print(f"our client alone (Pop3Client UIDL + retr_many, nothing stored): "
              f"{client_seconds:.2f} s, {client_bytes / 1e6:.1f} MB, {client_cpu}", flush=True)
        with tempfile.TemporaryDirectory(prefix="webmail-bench-") as data_dir:
            our_seconds, stats, peak_kb, our_cpu = ours(server, Path(data_dir), args.profile)
            blob_mb = sum(f.stat().st_size for f in Path(data_dir, "blobs").rglob("*")
                          if f.is_file()) / 1e6
        second_floor, _ = floor(server)
        floor_seconds = min(floor_seconds, second_floor)
    finally:
        server.close()

    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ratio = our_seconds / floor_seconds
    print(f"ours (manage.py sync_account --json, keep): {our_seconds:.2f} s, "
          f"{stats['messages_fetched']} messages, phases {stats['seconds']}")
    print(f"floor (best of two): {floor_seconds:.2f} s")
    print(f"ratio: {ratio:.2f}x (goal <= 1.5x) {'OK' if ratio <= 1.5 else 'OVER'}")
    print(f"peak memory of the sync process: {peak_kb / 1024:.0f} MB (goal < 200 MB) "
          f"{'OK' if peak_kb / 1024 < 200 else 'OVER'}; "
          f"RUSAGE_CHILDREN max {children_peak_mb:.0f} MB")
    cores = os.cpu_count() or 1
    print(f"CPU seconds (this process and children / whole machine, Dovecot included): "
          f"floor {floor_cpu.process:.1f} / {floor_cpu.machine:.1f}, ours "
          f"{our_cpu.process:.1f} / {our_cpu.machine:.1f}; on {cores} cores ours cannot "
          f"take under {our_cpu.machine / cores:.2f} s, whatever overlaps")
    print(f"blob store: {blob_mb:.0f} MB compressed")


if __name__ == "__main__":
    main()
