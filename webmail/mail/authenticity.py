"""Who really sent a message: local DKIM checks, our server's verdict, and warnings.

Three sources, trusted in this order: DKIM signatures we verify ourselves (dkimpy,
keys from DNS through a resolver callers can replace), the Authentication-Results
header our own receiving server added (its authserv-id only: anyone can write that
header into a message they send), and the From, Sender and Reply-To headers, which
prove nothing but can be compared with what was verified.

Alignment is "relaxed" the DMARC way, approximated without the Public Suffix List:
a signing domain aligns with the From domain when one is the other or a parent of it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dkim  # type: ignore[import-untyped]
from dkim.dnsplug import get_txt  # type: ignore[import-untyped]

from accounts.models import MailAccount
from webmail.parsing.auth_results import AuthVerdict, authentication_verdict
from webmail.parsing.mime import Address, ParsedMessage, parse_message

# dkimpy logs every bad signature in a message at ERROR: that is the sender's problem,
# not ours, and would let anyone fill our logs. Our results carry the reasons instead.
_dkim_logger = logging.getLogger(__name__ + ".dkimpy")
_dkim_logger.setLevel(logging.CRITICAL)

# dkimpy's resolver contract: (name like b"sel._domainkey.example.com.", timeout) -> the
# TXT record's bytes, or None when there is none.
DnsLookup = Callable[..., bytes | None]

# A message with more signatures is built to make us do work; the top ones count.
MAX_SIGNATURES = 5
DNS_TIMEOUT_SECONDS = 5
# Invisible characters used to break up a look-alike address in a display name.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_NAME_ADDRESS_RE = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
_NAME_DOMAIN_RE = re.compile(r"(?<![\w@-])((?:[a-z0-9-]+\.)+[a-z]{2,63})(?![\w-])")


@dataclass(frozen=True)
class DkimResult:
    domain: str
    selector: str
    valid: bool
    reason: str = ""  # why it failed, for people


@dataclass(frozen=True)
class AuthWarning:
    code: str  # "from_domain_failed", "not_aligned", "name_imitates_address", "reply_to_differs"
    message: str


@dataclass(frozen=True)
class Authenticity:
    status: str  # "verified", "failed" or "unverified"
    summary: str  # one line for the message header
    from_address: str
    from_domain: str
    signatures: tuple[DkimResult, ...] = ()
    server: AuthVerdict | None = None
    warnings: tuple[AuthWarning, ...] = ()

    @property
    def details(self) -> tuple[str, ...]:
        """Lines for the "details" disclosure: what each source said."""
        lines = [
            f"DKIM {s.domain} ({s.selector}): {'valid' if s.valid else 'invalid: ' + s.reason}"
            for s in self.signatures
        ]
        if self.server is not None:
            lines.append(f"Our server: {self.server.summary}")
        return tuple(lines)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower() if "@" in address else ""


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    a, b = domain.lower().strip("."), from_domain.lower().strip(".")
    if not a or not b:
        return False
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _decode(value: bytes) -> str:
    return value.decode("ascii", "replace")


def verify_dkim(raw: bytes, dns_lookup: DnsLookup | None = None, *,
                timeout: int = DNS_TIMEOUT_SECONDS) -> tuple[DkimResult, ...]:
    """Verify each DKIM-Signature (top first, at most MAX_SIGNATURES). Never raises."""
    try:
        checker = dkim.DKIM(raw, logger=_dkim_logger, timeout=timeout)
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    except Exception:  # noqa: BLE001 - unparseable mail: no signature we can check
        return ()
    resolver = dns_lookup or get_txt
    missing: list[bytes] = []

    def lookup(name: bytes, timeout: int = timeout) -> bytes | None:
        record = resolver(name, timeout=timeout)
        if not record:
            missing.append(name)
        return record

    results = []
    for index in range(min(count, MAX_SIGNATURES)):
        checker.domain, checker.selector, checker.signature_fields = None, b"", {}
        missing.clear()
        try:
            valid = bool(checker.verify(idx=index, dnsfunc=lookup))
            reason = "" if valid else "the signature does not match the message"
            if missing:
                reason = "the signing key is not published"
        except dkim.DnsTimeoutError:
            valid, reason = False, "the signing key could not be fetched in time"
        except dkim.KeyFormatError:
            valid, reason = False, "the signing key is missing or malformed"
        except dkim.ValidationError as error:
            # dkimpy raises (rather than returns False) when the body was changed.
            valid, reason = False, (
                "the body was changed after it was signed" if "body hash" in str(error)
                else "the signature is malformed")
        except (Exception, RecursionError) as error:  # noqa: BLE001 - hostile input
            valid, reason = False, f"the signature is malformed ({type(error).__name__})"
        fields = checker.signature_fields or {}
        domain = _decode(fields.get(b"d", b"")) if isinstance(fields, dict) else ""
        selector = _decode(fields.get(b"s", b"")) if isinstance(fields, dict) else ""
        results.append(DkimResult(domain.lower(), selector, valid, reason))
    return tuple(results)


def _imitation(sender: Address, from_domain: str) -> str:
    """An address or domain shown in the display name that is not the sender's."""
    name = unicodedata.normalize("NFKC", sender.name).translate(_INVISIBLE).casefold()
    for match in _NAME_ADDRESS_RE.finditer(name):
        if not aligned(match.group(1), from_domain):
            return match.group(0)
    for match in _NAME_DOMAIN_RE.finditer(name):
        if not aligned(match.group(1), from_domain):
            return match.group(1)
    return ""


def _warnings(
    parsed_from: Address | None,
    reply_to: tuple[Address, ...],
    from_domain: str,
    failed_reason: str,
    unaligned_domains: list[str],
) -> list[AuthWarning]:
    warnings = []
    if failed_reason:
        warnings.append(AuthWarning("from_domain_failed", failed_reason))
    elif unaligned_domains:
        warnings.append(
            AuthWarning(
                "not_aligned",
                f"Signed by {', '.join(unaligned_domains)}, not by {from_domain}: "
                f"nothing proves this message comes from {from_domain}.",
            )
        )
    if parsed_from is not None:
        imitated = _imitation(parsed_from, from_domain)
        if imitated:
            warnings.append(
                AuthWarning(
                    "name_imitates_address",
                    f"The sender's name shows {imitated}, but the message is from "
                    f"{parsed_from.address}.",
                )
            )
    for address in reply_to:
        reply_domain = domain_of(address.address)
        if reply_domain and from_domain and not aligned(reply_domain, from_domain):
            warnings.append(
                AuthWarning(
                    "reply_to_differs",
                    f"Replies go to {address.address}, not to the sender's domain "
                    f"{from_domain}.",
                )
            )
            break
    return warnings


def authserv_id_for(account: MailAccount) -> str:
    """Whose Authentication-Results an account trusts: its own setting (providers whose
    MX stamps another name, mx.example.com for imap.example.com), else its incoming
    server's name."""
    return (account.authserv_id or account.incoming_host).strip().lower()


def to_json(result: Authenticity) -> dict[str, Any]:
    """A JSON-ready form of `result`, read back by from_json (stored per message)."""
    return dataclasses.asdict(result)


def from_json(data: dict[str, Any]) -> Authenticity | None:
    """The Authenticity to_json wrote; None for anything else (an older format)."""
    try:
        server = data.get("server")
        return Authenticity(
            status=str(data["status"]),
            summary=str(data["summary"]),
            from_address=str(data["from_address"]),
            from_domain=str(data["from_domain"]),
            signatures=tuple(DkimResult(**s) for s in data.get("signatures", ())),
            server=AuthVerdict(**{**server, "dkim_domains": tuple(server["dkim_domains"])})
            if server else None,
            warnings=tuple(AuthWarning(**w) for w in data.get("warnings", ())),
        )
    except (KeyError, TypeError, AttributeError):
        return None


def verify_message(
    raw: bytes,
    *,
    authserv_id: str | None,
    dns_lookup: DnsLookup | None = None,
    parsed: ParsedMessage | None = None,
    dns_timeout: int = DNS_TIMEOUT_SECONDS,
) -> Authenticity:
    """Who sent `raw`, as far as can be proven. `authserv_id` names the receiving
    server whose Authentication-Results we trust (the account's incoming host); None
    trusts none. Pass `parsed` when the caller already parsed `raw`. Never raises.

    DKIM keys come from DNS (`dns_lookup`, dkimpy's resolver by default): call this
    where a few seconds of lookups are acceptable (when the body is stored, or behind
    a cache), not on every page view."""
    if parsed is None:
        parsed = parse_message(raw)
    sender = parsed.from_[0] if parsed.from_ else None
    from_address = sender.address if sender else ""
    from_domain = domain_of(from_address)
    signatures = verify_dkim(raw, dns_lookup, timeout=dns_timeout)
    server = None
    if authserv_id:
        server = authentication_verdict(parsed.header("Authentication-Results"), authserv_id)
        if not server.trusted:
            server = None

    local_pass = [s.domain for s in signatures if s.valid]
    server_pass = list(server.dkim_domains) if server and server.dkim == "pass" else []
    aligned_pass = [d for d in local_pass + server_pass if aligned(d, from_domain)]
    aligned_fail = [s for s in signatures if not s.valid and aligned(s.domain, from_domain)]
    dmarc = server.dmarc if server else "none"

    failed_reason = ""
    if dmarc == "fail":
        failed_reason = (
            f"{from_domain or 'The sender domain'} failed DMARC at our server: this message "
            f"is probably not from {from_domain or 'who it claims'}."
        )
    elif aligned_fail and not aligned_pass:
        failed_reason = (
            f"The signature of {from_domain} does not verify "
            f"({aligned_fail[0].reason}): the message was changed or forged."
        )

    if failed_reason:
        status, summary = "failed", f"Could not verify the sender ({from_domain or 'unknown'})"
    elif aligned_pass or dmarc == "pass":
        status, summary = "verified", f"Verified: sent by {from_domain}"
    else:
        status, summary = "unverified", "The sender could not be verified"
    unaligned = [] if status != "unverified" else list(dict.fromkeys(local_pass + server_pass))
    warnings = _warnings(sender, parsed.reply_to, from_domain, failed_reason, unaligned)
    return Authenticity(
        status=status,
        summary=summary,
        from_address=from_address,
        from_domain=from_domain,
        signatures=signatures,
        server=server,
        warnings=tuple(warnings),
    )
