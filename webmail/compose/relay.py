"""One send attempt of an outbox row through the account's SMTP server.

The state is recorded before and after the SMTP transaction (outbox.py): claimed
(connecting) → in transaction → sent/queued again/failed. Nothing here retries by
itself: a temporary failure writes the next attempt time and the task (or beat's
dispatch_due) comes back then.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from dataclasses import dataclass

from django.db import transaction

from accounts.hosts import check_host_allowed
from accounts.oauth.login import connect_with_refresh
from accounts.oauth.tokens import ReconnectNeeded
from webmail.compose import outbox
from webmail.compose.endpoints import server_files_sent_mail, smtp_endpoint
from webmail.compose.models import Outbox, OutboxState, SentCopy, SentCopyState
from webmail.mail import blobs
from webmail.protocols.errors import ProtocolError
from webmail.protocols.smtp import SmtpClient
from webmail.protocols.tls import ServerEndpoint

log = logging.getLogger(__name__)


@functools.cache
def local_hostname() -> str:
    """The EHLO name, looked up once per process (smtplib calls getfqdn() per session)."""
    return socket.getfqdn() or "localhost"


@dataclass(frozen=True)
class RelayOutcome:
    state: str  # "sent", "retry", "failed", "uncertain", "skipped", "waiting"
    detail: str = ""
    retry_in: float | None = None


def _sent_copy_choice(row: Outbox) -> str:
    choice = row.identity.sent_copy if row.identity is not None else SentCopy.AUTO
    if choice == SentCopy.SKIP or (choice == SentCopy.AUTO
                                   and server_files_sent_mail(row.account)):
        return SentCopyState.SKIPPED
    return SentCopyState.PENDING


def relay(outbox_id: int) -> RelayOutcome:
    """Claim the row and try once. Safe to call twice: only one claim wins."""
    token = outbox.claim(outbox_id)
    if token is None:
        early = Outbox.objects.filter(pk=outbox_id, state=OutboxState.QUEUED).values_list(
            "next_attempt_at", flat=True).first()
        if early is not None:
            # Woken before its time (clock skew between hosts, or the time moved on by a
            # retry): come back then rather than wait for beat's next pass.
            outbox.enqueue_if_soon(outbox_id, early)
        return RelayOutcome("skipped", "not due, or claimed by another worker")
    row = Outbox.objects.select_related("account", "identity").get(pk=outbox_id)
    try:
        raw = blobs.get(row.blob_id)
        endpoint = smtp_endpoint(row.account)
    except ProtocolError as exc:  # an OAuth2 token could not be renewed
        return _protocol_failure(outbox_id, token, exc)
    except Exception as exc:  # noqa: BLE001 - any reason here is permanent for this row
        detail = f"The message could not be prepared for sending ({type(exc).__name__})."
        outbox.record_failure(outbox_id, token, detail)
        return RelayOutcome("failed", detail)
    if not row.account.has_smtp:
        detail = "This account has no outgoing (SMTP) server set up."
        outbox.record_failure(outbox_id, token, detail)
        return RelayOutcome("failed", detail)
    in_transaction = False
    try:
        check_host_allowed(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        endpoints = iter([endpoint])
        with contextlib.ExitStack() as stack:
            # An OAuth2 token the server refuses is renewed and tried once more.
            client = connect_with_refresh(
                row.account, lambda: next(endpoints, None) or smtp_endpoint(row.account),
                _open_smtp)
            stack.push(client)
            if not outbox.enter_transaction(outbox_id, token):
                return RelayOutcome("skipped", "the claim was taken back")
            in_transaction = True
            result = client.send(row.envelope_from, row.recipients, raw,
                                 smtputf8=row.smtputf8)
    except ProtocolError as exc:
        return _protocol_failure(outbox_id, token, exc)
    except Exception:
        log.exception("send failed unexpectedly", extra={"outbox_id": outbox_id})
        if not in_transaction:  # nothing was handed to the server: try again later
            outbox.record_temporary_failure(outbox_id, token, "An internal error; retrying.")
            return RelayOutcome("retry")
        # A bug or an unknown failure in the middle: the server may have the message.
        outbox.record_uncertain(outbox_id, token, outbox.UNCERTAIN_REASON)
        return RelayOutcome("uncertain")
    sent_copy = _sent_copy_choice(row)
    with transaction.atomic():
        outbox.record_sent(outbox_id, token, result, sent_copy=sent_copy)
        transaction.on_commit(lambda: _after_send(outbox_id, sent_copy))
    return RelayOutcome("sent", result.message)


def _open_smtp(endpoint: ServerEndpoint) -> SmtpClient:
    return SmtpClient(endpoint, local_hostname=local_hostname()).__enter__()


def _protocol_failure(outbox_id: int, token: str, exc: ProtocolError) -> RelayOutcome:
    if isinstance(exc, ReconnectNeeded):
        # The grant is gone: the row waits, queued, until the person reconnects.
        outbox.wait_for_reconnect(outbox_id, token, str(exc))
        return RelayOutcome("waiting", str(exc))
    detail = exc.server_text.strip() if exc.server_text else str(exc)
    text = f"{exc.code} {detail}" if exc.code else detail
    if exc.temporary:
        at = outbox.record_temporary_failure(outbox_id, token, text, exc.code)
        if at is None:
            return RelayOutcome("failed", text)
        outbox.enqueue_if_soon(outbox_id, at)
        return RelayOutcome("retry", text)
    outbox.record_failure(outbox_id, token, text, exc.code)
    return RelayOutcome("failed", text)


def _after_send(outbox_id: int, sent_copy: str) -> None:
    from webmail.compose.tasks import after_send_task

    after_send_task.delay(outbox_id)
