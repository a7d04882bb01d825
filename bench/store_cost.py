"""What storing a message costs alone, without the network: CPU microseconds a message.

    .venv/bin/python -m bench.store_cost [--count 2000] [--rounds 3] [--only prepare]

Two steps of a first sync, in one process on a fresh SQLite site under a temporary
directory, on the generator's mailbox:

- prepare: what a parsing worker does with one message (imap_prepare.prepare: parse,
  hash, compress, write the blob file, space the search text for SQLite's index);
- store: what the writer thread does with a batch of them (pop3_store.store_batch: the
  rows, the search index, the thread keys, the commit), in batches of 200.

Timed with process_time and the median of `rounds` is printed: on a machine shared with
other work this is steadier than a whole sync's wall time, but it still moves with the
machine; compare two commits by alternating runs from two worktrees. Under
`valgrind --tool=callgrind --callgrind-out-file=/dev/null` with `--rounds 1`, the
difference of the instruction totals with `--only none` and with `--only prepare` (or
`store`) is a count that does not move with the machine at all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("both", "prepare", "store", "none"), default="both")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="webmail-bench-store-"))
    os.environ.update(DJANGO_SETTINGS_MODULE="webmail.settings", WEBMAIL_DATA_DIR=str(data),
                      WEBMAIL_HTTPS="false")
    os.environ.pop("DATABASE_URL", None)  # a fresh SQLite file under data
    sys.path.insert(0, str(ROOT))
    try:
        _run(args)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import MailAccount, User
    from bench.generator import generate_mailbox
    from webmail.mail.blobs import local_root
    from webmail.mail.local_folders import ensure_local_folders
    from webmail.mail.models import Message
    from webmail.sync import imap_prepare, pop3_store

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench")
    now = datetime(2026, 12, 8, tzinfo=UTC)
    # As in a parsing worker of a SQLite site (imap_prepare.Workers passes these).
    imap_prepare._blob_root = local_root()
    imap_prepare._space_search_text = True
    prepare_us: list[float] = []
    store_us: list[float] = []
    for round_number in range(args.rounds):
        # Another mailbox each round, so every round writes new blob files.
        raws = list(generate_mailbox(args.count, args.seed + round_number))
        if args.only == "none":
            break
        started = time.process_time()
        prepared = [imap_prepare.prepare(raw, now) for raw in raws]
        prepare_us.append((time.process_time() - started) / len(raws) * 1e6)
        if args.only == "prepare":
            continue
        account = MailAccount.objects.create(
            owner=user, email=f"r{round_number}@bench.test", protocol="pop3",
            incoming_host="127.0.0.1", incoming_port=110, incoming_security="none",
            incoming_username="bench")
        inbox = ensure_local_folders(account)["inbox"]
        items = [pop3_store.Downloaded(uidl=f"u{index}", prepared=item)
                 for index, item in enumerate(prepared)]
        started = time.process_time()
        for start in range(0, len(items), BATCH):
            pop3_store.store_batch(account, inbox, items[start:start + BATCH],
                                   synthetic=False, now=lambda: now)
        store_us.append((time.process_time() - started) / len(items) * 1e6)
        assert Message.objects.filter(account=account).count() == len(items)
    print(f"{args.count} generated messages a round (seeds {args.seed} on), "
          f"{args.rounds} rounds")
    if prepare_us:
        print(f"prepare (a parsing worker): {statistics.median(prepare_us):.0f} us a message "
              f"CPU, median; all {[round(v) for v in prepare_us]}")
    if store_us:
        print(f"store (the writer thread): {statistics.median(store_us):.0f} us a message "
              f"CPU, median; all {[round(v) for v in store_us]}")


if __name__ == "__main__":
    main()
