"""Queueing a task when the broker may be away (Redis restarting, a network blip).

The database row (an UpstreamOperation, an Outbox row) is the record of the work; the
task only says "now". When the broker cannot take it, the row stays due and beat's
fallbacks (replay_due_operations, dispatch_due) hand it to a worker later, so the
person's request, whose change is already committed, must not fail for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def send_or_leave_to_beat(send: Callable[[], object], *, task: str, object_id: int) -> bool:
    """Call `send` (an apply_async); False, logged, when the broker is unreachable."""
    try:
        send()
    except (OperationalError, OSError) as exc:
        log.warning("broker unreachable: left to beat's fallback",
                    extra={"task": task, "object_id": object_id, "error": str(exc)})
        return False
    return True
