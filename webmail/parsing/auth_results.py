"""Authentication-Results (RFC 8601) -> an SPF/DKIM/DMARC verdict people can read.

Only the header added by our own receiving server (its authserv-id) is trusted:
anyone can put an Authentication-Results header in a message they send. A small
parser of our own rather than the `authres` package: we read three methods and need
it to never raise on hostile input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Longer values are not real results; they are cut before parsing.
MAX_HEADER_LENGTH = 8_192
_PASS = {"pass"}
_FAIL = {"fail", "softfail", "permerror", "policy", "hardfail"}


@dataclass(frozen=True)
class MethodResult:
    method: str  # "spf", "dkim", "dmarc", ...
    result: str  # "pass", "fail", "none", ...
    properties: tuple[tuple[str, str], ...] = ()  # ("header.d", "example.com")

    def get(self, name: str) -> str:
        for key, value in self.properties:
            if key == name:
                return value
        return ""


@dataclass(frozen=True)
class AuthVerdict:
    spf: str  # "pass", "fail" or "none"
    dkim: str
    dmarc: str
    dkim_domains: tuple[str, ...] = ()  # domains with a passing signature
    trusted: bool = False  # False: our server added no result to this message
    summary: str = ""


def _strip_comments(text: str) -> str:
    """Remove (nested) comments outside quoted strings; linear, no recursion."""
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            out.append(char)
            quoted = char != '"'
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _split(text: str, separator: str) -> list[str]:
    """Split on a separator outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> tuple[str, list[MethodResult]]:
    """(authserv-id, results) of one header value; ("", []) if unreadable."""
    text = " ".join(_strip_comments(value[:MAX_HEADER_LENGTH]).split())
    segments = _split(text, ";")
    head = segments[0].split()
    if not head:
        return "", []
    authserv_id = head[0].lower()
    results = []
    for segment in segments[1:]:
        words = [word for word in _split(segment.strip(), " ") if word]
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        properties = []
        for word in words[1:]:
            key, sep, prop = word.partition("=")
            if sep:
                properties.append((key.lower(), prop.strip('"')))
        results.append(
            MethodResult(
                method=method.split("/")[0].lower(),
                result=result.strip('"').lower(),
                properties=tuple(properties),
            )
        )
    return authserv_id, results


def _verdict(results: list[MethodResult], method: str) -> str:
    found = {r.result for r in results if r.method == method}
    if found & _PASS:
        return "pass"
    if found & _FAIL:
        return "fail"
    return "none"


def authentication_verdict(headers: Iterable[str], authserv_id: str) -> AuthVerdict:
    """Verdict from a message's Authentication-Results values, in header order (top
    first). Only the top-most header from `authserv_id` counts."""
    wanted = authserv_id.strip().lower()
    for value in headers:
        try:
            server, results = parse_authentication_results(value)
        except (Exception, RecursionError):  # noqa: BLE001, S112 - hostile header, skip it
            continue
        if not wanted or server != wanted:
            continue
        spf, dkim, dmarc = (_verdict(results, m) for m in ("spf", "dkim", "dmarc"))
        domains = tuple(
            dict.fromkeys(
                r.get("header.d") or r.get("header.i").lstrip("@")
                for r in results
                if r.method == "dkim" and r.result == "pass"
            )
        )
        domains = tuple(d for d in domains if d)
        if dkim == "pass":
            signed = f"Signed by {', '.join(domains)}" if domains else "DKIM pass"
        else:
            signed = "DKIM fail" if dkim == "fail" else "Not signed"
        summary = f"{signed}; SPF {spf}; DMARC {dmarc}"
        return AuthVerdict(spf, dkim, dmarc, domains, trusted=True, summary=summary)
    return AuthVerdict("none", "none", "none", summary="Not checked by our server")
