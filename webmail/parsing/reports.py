"""Summaries of machine-readable reports: bounces (RFC 3464), read receipts (RFC 8098)
and abuse feedback (RFC 5965), so the reader can say "not delivered to x: 550 ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from webmail.parsing.charsets import decode_header_value

# A report names a handful of recipients; a long list is noise we do not summarise.
MAX_REPORT_RECIPIENTS = 100
_FIELD_LIMIT = 2_000
_TYPED_VALUE_RE = re.compile(r"^\s*[\w.-]+\s*;\s*")


@dataclass(frozen=True)
class RecipientStatus:
    final_recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. "5.1.1"
    diagnostic: str
    remote_mta: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    report_type: str  # "delivery-status", "disposition-notification", "feedback-report"
    reporting_mta: str = ""
    recipients: tuple[RecipientStatus, ...] = ()
    disposition: str = ""  # read receipts: "manual-action/MDN-sent-manually; displayed"
    feedback_type: str = ""  # abuse reports: "abuse", "fraud", ...

    @property
    def summary(self) -> str:
        if self.report_type == "disposition-notification":
            return f"Read receipt: {self.disposition or 'unknown disposition'}"
        if self.report_type == "feedback-report":
            return f"Feedback report: {self.feedback_type or 'unknown type'}"
        lines = []
        for item in self.recipients:
            line = f"{item.action or 'unknown'}: {item.final_recipient or 'unknown recipient'}"
            if item.status:
                line += f" ({item.status})"
            if item.diagnostic:
                line += f" {item.diagnostic}"
            lines.append(line)
        return "; ".join(lines) or "Delivery report"


def _typed(value: str | None) -> str:
    """'rfc822; bob@example.com' -> 'bob@example.com'."""
    text = decode_header_value(str(value or "")[:_FIELD_LIMIT])
    return _TYPED_VALUE_RE.sub("", text, count=1).strip()


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a report part (compat32 parses delivery-status into a list
    of Message objects; anything else is reparsed from its text)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [item for item in payload if isinstance(item, Message)]
    from email.parser import Parser
    from email.policy import compat32

    text = payload if isinstance(payload, str) else ""
    if part.get("Content-Transfer-Encoding", "").strip().lower() in {"base64", "quoted-printable"}:
        decoded = part.get_payload(decode=True)
        if isinstance(decoded, bytes):
            text = decoded.decode("utf-8", "replace")
    blocks = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text[:200_000])[: MAX_REPORT_RECIPIENTS + 1]:
        if chunk.strip():
            blocks.append(Parser(policy=compat32).parsestr(chunk.strip() + "\n", headersonly=True))
    return blocks


def summarise_report(part: Message) -> DeliveryReport | None:
    """Summarise a message/delivery-status, message/disposition-notification or
    message/feedback-report part. Returns None when nothing useful is there."""
    subtype = part.get_content_subtype().lower()
    blocks = _blocks(part)
    if not blocks:
        return None
    first = blocks[0]
    if subtype == "disposition-notification":
        return DeliveryReport(
            report_type=subtype,
            reporting_mta=_typed(first.get("Reporting-UA")),
            recipients=(
                RecipientStatus(_typed(first.get("Final-Recipient")), "displayed", "", ""),
            ),
            disposition=_typed(first.get("Disposition")),
        )
    if subtype == "feedback-report":
        return DeliveryReport(
            report_type=subtype,
            reporting_mta=_typed(first.get("Reporting-MTA")),
            feedback_type=_typed(first.get("Feedback-Type")),
        )
    recipients = []
    for block in blocks[: MAX_REPORT_RECIPIENTS + 1]:
        if not (block.get("Final-Recipient") or block.get("Original-Recipient")):
            continue
        recipients.append(
            RecipientStatus(
                final_recipient=_typed(
                    block.get("Final-Recipient") or block.get("Original-Recipient")
                ),
                action=_typed(block.get("Action")).lower(),
                status=_typed(block.get("Status")),
                diagnostic=_typed(block.get("Diagnostic-Code")),
                remote_mta=_typed(block.get("Remote-MTA")),
            )
        )
    return DeliveryReport(
        report_type="delivery-status",
        reporting_mta=_typed(first.get("Reporting-MTA")),
        recipients=tuple(recipients[:MAX_REPORT_RECIPIENTS]),
    )
