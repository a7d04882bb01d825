"""What one sync did: returned by the engines, printed by `sync_account --json`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SyncStats:
    account_id: int
    protocol: str
    messages_fetched: int = 0
    bytes_fetched: int = 0
    messages_deleted_locally: int = 0
    messages_deleted_upstream: int = 0
    flags_updated: int = 0
    folders: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the wall time of the block to seconds[name]."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(
                self.seconds.get(name, 0.0) + time.perf_counter() - start, 4
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
