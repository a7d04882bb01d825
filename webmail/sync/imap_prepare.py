"""CPU work of a sync (MIME parsing, hashing, compression) in worker processes.

A fetched message costs ~0.4-0.5 ms of parsing, ~0.1 ms of compression (ISA-L's
deflate) and, on SQLite, ~0.07 ms spacing its search text for the word index, all under
the GIL; the database writes and the network read take about as long again. With a
second CPU, a small
process pool parses batch k+1 while the engine writes batch k (profiled: see
bench/README.md). This module imports nothing from Django, so the workers only load the
parser. They are spawned (not forked: safe beside a Celery or test thread; not through a
forkserver, whose workers outlive a SIGKILLed sync) and die with their parent
(PR_SET_PDEATHSIG), so a killed sync leaves no process behind.

Small syncs do the work inline: starting workers costs more than it saves below a few
hundred messages.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import multiprocessing
import os
import signal
from collections.abc import Hashable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from webmail.mail import blob_files
from webmail.mail.blob_files import LocalBlobRoot
from webmail.mail.text_values import clean_text
from webmail.parsing.mime import ParsedMessage, parse_message
from webmail.search.index_text import spaced

# Same codec and level as webmail.mail.blobs (blob_files.compress).
COMPRESSION_LEVEL = blob_files.COMPRESSION_LEVEL
# Below this many messages to parse, a pool does not pay for its start-up (~0.3 s).
PARALLEL_FROM = 300
PR_SET_PDEATHSIG = 1
# Messages handed to a worker per task: one task per message cost the engine's process
# ~0.27 ms of CPU a message in the pool's own work (futures, queues, its threads), 2.75
# against 0.6 s for 10,000 messages of 30 KB in chunks of 8 (measured); a chunk is cut
# earlier at CHUNK_BYTES, so a few large messages still spread over the workers.
CHUNK_MESSAGES = 8
CHUNK_BYTES = 1024 * 1024

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Prepared:
    sha256: str
    size: int
    compressed: bytes  # empty when `written`
    parsed: ParsedMessage
    stored_size: int = 0
    # The blob file is already on disk (a worker wrote it; blobs.record_written).
    written: bool = False
    # parsed.search_text as SQLite's word index holds it (index_text.spaced), when a
    # worker made it: the writer then inserts the index row itself (search_batch).
    spaced_search_text: str | None = None


# Set in worker processes when blobs live on a local disk (Workers passes it).
_blob_root: LocalBlobRoot | None = None
# Set in worker processes when the store is SQLite, whose word index wants the search
# text `spaced` (~75 us a message of the generated mailbox, most of the index row's
# cost): done here, beside the parse, rather than in the writer thread.
_space_search_text = False
_made: set[str] = set()


def prepare(raw: bytes, internal_date: datetime | None) -> Prepared:
    """Parse, hash and compress one whole message, for the store.

    `parsed` keeps what the store writes (envelope, snippet, attachments, search text,
    warnings; webmail.mail.ingest) and drops the rest: text, HTML and every decoded
    header came back from a worker pickled and cost the engine's process ~0.8 ms a
    message to unpickle (0.3 ms without them; measured). The reader parses the blob
    again when it needs them.
    """
    parsed = parse_message(raw, internal_date=internal_date, for_store=True)
    search_text = clean_text(parsed.search_text)
    spaced_text = spaced(search_text) if _space_search_text else None
    sha = hashlib.sha256(raw).hexdigest()
    compressed = blob_files.compress(raw)
    written = False
    if _blob_root is not None:
        # In a worker: the file goes to disk here rather than back through a pipe to the
        # engine's process (its row follows there, after this returned: file first).
        blob_files.write_file(_blob_root, sha, compressed, _made)
        written = True
    return Prepared(
        sha256=sha,
        size=len(raw),
        compressed=b"" if written else compressed,
        parsed=dataclasses.replace(parsed, text="", html="", headers=(), forwarded=(),
                                   reports=(), events=(), search_text=search_text),
        stored_size=len(compressed),
        written=written,
        spaced_search_text=spaced_text,
    )


def prepare_many(messages: list[tuple[bytes, datetime | None]]) -> list[Prepared]:
    """`prepare` for each message, in order: one worker task for a few messages."""
    return [prepare(raw, internal_date) for raw, internal_date in messages]


class Chunks(Generic[Key]):
    """Messages of one batch handed to `executor` a chunk at a time, results by key."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._submitted: list[tuple[list[Key], Future[list[Prepared]]]] = []
        self._keys: list[Key] = []
        self._messages: list[tuple[bytes, datetime | None]] = []
        self._bytes = 0
        self.keys: set[Key] = set()

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: Key, raw: bytes, internal_date: datetime | None) -> None:
        self.keys.add(key)
        self._keys.append(key)
        self._messages.append((raw, internal_date))
        self._bytes += len(raw)
        if len(self._messages) >= CHUNK_MESSAGES or self._bytes >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Hand the messages added since the last chunk to the executor."""
        if self._messages:
            self._submitted.append((self._keys, self._executor.submit(prepare_many,
                                                                      self._messages)))
            self._keys, self._messages, self._bytes = [], [], 0

    def results(self) -> Iterator[tuple[Key, Prepared]]:
        """(key, prepared) of every message, in the order added (waits for the workers)."""
        self.flush()
        for keys, future in self._submitted:
            yield from zip(keys, future.result(), strict=True)


def parse_headers(header_bytes: bytes, internal_date: datetime | None) -> ParsedMessage:
    return parse_message(header_bytes, internal_date=internal_date)


def _start_worker(blob_root: LocalBlobRoot | None, space_search_text: bool) -> None:
    global _blob_root, _space_search_text  # noqa: PLW0603 - set once, at a worker's start
    _blob_root = blob_root
    _space_search_text = space_search_text
    _die_with_parent()


def _local_blob_root() -> LocalBlobRoot | None:
    """Where workers may write blob files themselves (local disk blob storage only)."""
    try:  # Django is set up in the engine's process (never imported by the workers)
        from webmail.mail.blobs import local_root

        return local_root()
    except Exception:  # noqa: BLE001 - without it the engine writes the files itself
        return None


def _store_is_sqlite() -> bool:
    """Whether the workers should space search texts for SQLite's word index."""
    try:  # Django is set up in the engine's process (never imported by the workers)
        from django.db import connection

        return connection.vendor == "sqlite"
    except Exception:  # noqa: BLE001 - without it the writer's SQL spaces the text
        return False


def _die_with_parent() -> None:
    """Workers must not outlive a sync that was killed (SIGKILL skips every cleanup)."""
    # Not Linux: no prctl; the workers then end when their queue closes.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def release_memory() -> None:
    """Give freed heap back to the system after a batch (glibc only).

    A batch allocates and frees tens of MB of message bytes and parse results; glibc
    keeps raising its mmap threshold after such frees and then serves them from a heap
    that only grows, so a long first sync's RSS crept up batch after batch without it.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class _Inline(Executor):
    """An executor that runs the call at once (one CPU, or a small sync)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future: Future[object] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller via the future
            future.set_exception(exc)
        return future


class Workers:
    """One sync's executor: inline until some step has enough work for a pool."""

    def __init__(self) -> None:
        self._inline = _Inline()
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future[int] | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    @staticmethod
    def worth_overlapping(count: int) -> bool:
        """Whether `count` messages are enough to store in a writer thread while the next
        batch is fetched (webmail/sync/writer.py), with or without a pool: parsing inline
        (one CPU, or a daemonic Celery worker) still overlaps with SQLite's and psycopg's
        work, which runs without the GIL."""
        return count >= PARALLEL_FROM

    def for_work(self, count: int) -> Executor:
        if self._pool is not None:
            return self._pool
        cpus = os.cpu_count() or 1
        # A daemonic process (some worker pools) may not start children: parse inline.
        if cpus < 2 or count < PARALLEL_FROM or multiprocessing.current_process().daemon:
            return self._inline
        try:
            self._pool = ProcessPoolExecutor(
                max_workers=min(cpus, 4),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(_local_blob_root(), _store_is_sqlite()),
            )
        except (OSError, AssertionError, ValueError):
            return self._inline
        # Done once the first worker is up (see ready_for).
        self._warm = self._pool.submit(os.getpid)
        return self._pool

    def ready_for(self, count: int) -> Executor:
        """for_work's executor, but inline until a worker process is up: a worker's
        start-up (~0.5 s of imports) would otherwise stall the caller's first batches,
        which the engine can parse itself meanwhile."""
        executor = self.for_work(count)
        if executor is self._pool and self._warm is not None and not self._warm.done():
            return self._inline
        return executor

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
