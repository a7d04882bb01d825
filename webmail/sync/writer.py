"""A sync's batch writes in one background thread, one batch at a time, in order.

A first sync's bodies phase is a pipeline: fetch batch k+1 (the network), parse it (the
worker processes), store batch k (the database). Stored from the engine's own thread,
the store (row updates and, on SQLite, the FTS5 index: ~1.5 ms of CPU a message inside
SQLite with the trigram index of the time) stopped the fetching for its whole length, so
the engine's thread was the slowest stage (profiled, bench/README.md). Here the store
runs in a thread of its own, with its own database connection: SQLite and psycopg
release the GIL while they work, so the next batch is fetched and handed to the parsers meanwhile.

At most one write is in flight and writes run in submission order, so every batch still
commits in one transaction, whole or not at all, in the order it did before. The caller
waits for the previous write before anything that must follow it (renewing the lease,
progress, the next write), so its own database writes never wait on the writer's lock.

Used only where it pays and is safe: hundreds of messages (imap_prepare.Workers.
worth_overlapping; parsing inline, as in a daemonic Celery worker, overlaps too) and the
caller's connection not inside a transaction (another connection could not see its rows,
and on SQLite would wait for its lock). Otherwise each write runs at once in the
caller's thread, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from django.db import connection, connections


class BatchWriter:
    def __init__(self, *, background: bool) -> None:
        self.background = background and not connection.in_atomic_block
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None
        self._inline_result: Any = None
        self._has_inline = False

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Run fn(*args) after the previous write; wait() gives its result."""
        if self._pending is not None or self._has_inline:
            raise RuntimeError("wait() for the previous write first")
        if not self.background:
            self._inline_result = fn(*args)
            self._has_inline = True
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-writer")
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> Any:
        """The result of the write in flight (None if there is none); raises its error."""
        if self._has_inline:
            result, self._inline_result, self._has_inline = self._inline_result, None, False
            return result
        if self._pending is None:
            return None
        pending, self._pending = self._pending, None
        return pending.result()

    def close(self) -> None:
        """Wait for the write in flight, then close the thread's database connection."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.submit(connections.close_all).result()
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
            return
        # Already failing: let the write in flight finish (it commits or rolls back as a
        # whole), but the first error is the one that goes up.
        with contextlib.suppress(Exception):  # the error in flight wins
            self.close()
