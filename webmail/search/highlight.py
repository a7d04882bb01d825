"""Snippets with the matched words marked: escape first, then mark, so mail text can
never become markup. Both backends end here: matches are marked with private-use
characters, which from_markers turns into <mark> after escaping."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

START, STOP = "\ue000", "\ue001"  # never in mail text: both are stripped before marking
SNIPPET_CHARS = 220
_LEAD = 60  # characters shown before the first match
_SPACES = re.compile(r"\s+")


def body_of(search_text: str) -> str:
    """The body part of Message.search_text, which the parser builds as
    subject, people, body and attachment names, one per line at the start."""
    parts = search_text.split("\n", 2)
    return parts[2] if len(parts) == 3 else search_text


def strip_markers(text: str) -> str:
    return text.replace(START, "").replace(STOP, "")


def from_markers(text: str) -> SafeString:
    """Text whose matches sit between START and STOP → safe HTML with <mark>."""
    escaped = escape(_SPACES.sub(" ", text).strip())
    marked = escaped.replace(START, "<mark>").replace(STOP, "</mark>")
    # A hostile START without STOP cannot produce more than an unclosed <mark>, but keep
    # the markup balanced anyway.
    if marked.count("<mark>") != marked.count("</mark>"):
        marked = marked.replace("<mark>", "").replace("</mark>", "")
    return mark_safe(marked)  # noqa: S308  (escaped above; only <mark> added)


def highlight(text: str, needles: Sequence[str], *, width: int = SNIPPET_CHARS,
              word_starts: Sequence[str] = ()) -> SafeString:
    """A window of `text` around the first match, matches marked. `needles` match as
    case-insensitive substrings (CJK text, which has no word boundaries); `word_starts`
    only at the start of a word, and mark the whole word (a stemmed word's forms: "meet"
    marks "meetings", as both backends' stemming matched them)."""
    alternatives = [(len(n), re.escape(n)) for n in {n for n in needles if n.strip()}]
    alternatives += [(len(w), rf"\b{re.escape(w)}\w*")
                     for w in {w for w in word_starts if w.strip()}]
    text = strip_markers(text)
    if not alternatives:
        return from_markers(_SPACES.sub(" ", text[:width * 2]).strip()[:width])
    alternatives.sort(key=lambda pair: pair[0], reverse=True)
    pattern = re.compile("|".join(a for _n, a in alternatives), re.IGNORECASE)
    # Spaces are collapsed in the part around the first match only: over whole bodies
    # that was most of this function's time.
    first = pattern.search(text)
    cut = 0 if first is None else max(0, first.start() - 2 * _LEAD)
    part = _SPACES.sub(" ", text[cut:cut + 3 * width]).lstrip()
    more = cut + 3 * width < len(text.rstrip())
    first = pattern.search(part)
    start = 0 if first is None else max(0, first.start() - _LEAD)
    if start:
        space = part.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    window = part[start:start + width]
    marked = pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", window)
    prefix = "… " if start or cut else ""
    suffix = " …" if start + width < len(part.rstrip()) or more else ""
    return from_markers(prefix + marked.rstrip() + suffix)
