"""Messages go to the parsing workers a few at a time (imap_prepare.Chunks): fewer tasks,
every result back under its own key, in order."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any

from bench.generator import generate_with_meta
from webmail.sync import imap_prepare
from webmail.sync.imap_prepare import Chunks


class _Counting(Executor):
    def __init__(self) -> None:
        self.tasks: list[int] = []

    def submit(self, fn, /, *args: Any, **kwargs: Any) -> Future[Any]:  # type: ignore[no-untyped-def, override]
        self.tasks.append(len(args[0]))
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_chunks_cut_by_count_and_bytes_and_keep_each_result_with_its_key() -> None:
    raws = [raw for raw, _meta in generate_with_meta(20, seed=3)]
    big = b"Subject: big\r\n\r\n" + b"x" * imap_prepare.CHUNK_BYTES
    executor = _Counting()
    chunks: Chunks[str] = Chunks(executor)
    for index, raw in enumerate([*raws[:10], big, *raws[10:]]):
        chunks.add(f"m{index}", raw, None)
    results = list(chunks.results())
    assert executor.tasks == [8, 3, 8, 2]  # the big message ends its chunk
    assert [key for key, _prepared in results] == [f"m{i}" for i in range(21)]
    assert results[10][1].size == len(big)
    assert results[0][1].parsed.subject and len(chunks) == 21
