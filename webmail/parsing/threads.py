"""Conversation grouping, JWZ-lite: References first, In-Reply-To second, and a
normalised subject for callers that want to group messages without either.

Pure functions: the store provides a lookup callback from a Message-ID to the thread
root it already recorded for that message (or None).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# A References header of a very long thread; the oldest entries and the last ones
# carry the information, the middle is skipped to bound the lookups per message.
MAX_REFERENCES_LOOKED_UP = 40

# Reply and forward prefixes in the languages our users' correspondents write in.
_PREFIX_WORDS = (
    "re|fw|fwd|aw|wg|sv|vs|vb|antw|antwort|tr|rif|r|ref|odp|pd|res|enc|rv|fs|doorst|"
    "vl|ynt|ilt|yml|továbbítás|válasz|vá|přeposlat|atb|ats|rép|réf|reenv|"
    "πρθ|απ|σχετ|ответ|отв|пересл|переслать|נב|השב|رد|إعادة توجيه|"
    "回复|回覆|答复|转发|轉寄|轉發|返信|転送|회신|전달|답장"
)
_PREFIX_RE = re.compile(
    rf"^(?:\s*(?:\[[^\[\]]{{0,60}}\]|(?:{_PREFIX_WORDS})\s*(?:\[\d{{1,4}}\]|\(\d{{1,4}}\))?\s*[:：]))+",
    re.IGNORECASE,
)
_TRAILER_RE = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)


def normalize_subject(subject: str) -> str:
    """'Re: AW: [list] Fwd: Hello  world (fwd)' -> 'hello world'."""
    text = subject[:1000]
    text = _PREFIX_RE.sub("", text)
    text = _TRAILER_RE.sub("", text)
    return " ".join(text.split()).casefold()


def is_reply_subject(subject: str) -> bool:
    """True when the subject carries a reply or forward prefix."""
    return bool(_PREFIX_RE.match(subject[:1000]))


def _candidates(references: Sequence[str], in_reply_to: str) -> list[str]:
    refs = [ref for ref in references if ref]
    if len(refs) > MAX_REFERENCES_LOOKED_UP:
        half = MAX_REFERENCES_LOOKED_UP // 2
        refs = refs[:half] + refs[-half:]
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    return refs


def thread_root(
    message_id: str,
    in_reply_to: str,
    references: Sequence[str],
    lookup: Callable[[str], str | None],
) -> str:
    """The Message-ID naming this message's conversation.

    The first ancestor (oldest first) the store already knows decides; when none is
    known, the oldest ancestor named is the root (the thread is joined when it
    arrives, since a root's own key is its Message-ID). A message with no ancestors
    starts its own thread. Messages without a Message-ID get "" and callers should
    key them by their own id.
    """
    for candidate in _candidates(references, in_reply_to):
        if candidate == message_id:
            continue
        root = lookup(candidate)
        if root:
            return root
    known = lookup(message_id) if message_id else None
    if known:
        return known
    ancestors = [c for c in _candidates(references, in_reply_to) if c != message_id]
    return ancestors[0] if ancestors else message_id
