"""A message body made ready for the sandboxed reading frame, cached per message.

HTML goes through sanitize_html once per (message, sanitizer version, remote images
allowed or not); the result is kept in the cache, with what else the frame shows, and
never edited afterwards. Plain
text is escaped first and only then linkified (urlize on the escaped text), split into
blocks so the template can fold quoted replies and signatures.

URLs inside the frame (cid: parts, the image proxy) carry a signed token instead of
relying on the session cookie: a sandboxed frame without allow-same-origin has an
opaque origin, and browsers treat its requests as cross-site (no SameSite cookies).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape, urlize
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from webmail.mail import blobs, proxy
from webmail.mail.models import Message
from webmail.parsing.mime import ParsedMessage, parse_message
from webmail.parsing.sanitize import SANITIZER_VERSION, sanitize_html

CACHE_SECONDS = 24 * 3600
# Tokens in cached HTML must outlive the cache entry that holds them.
TOKEN_MAX_AGE = 2 * CACHE_SECONDS
_SALT = "webmail.mail.frame"


@dataclass(frozen=True)
class TextBlock:
    kind: str  # "text", "quote" or "signature"
    html: SafeString


@dataclass(frozen=True)
class RenderedBody:
    is_html: bool
    html: SafeString = field(default_factory=lambda: mark_safe(""))  # noqa: S308 - empty
    blocks: tuple[TextBlock, ...] = ()
    has_remote_content: bool = False
    tracking_pixels: int = 0


# -- tokens for URLs used inside the frame ----------------------------------------------
def frame_token(user_id: int, message_id: int) -> str:
    return signing.dumps([user_id, message_id], salt=_SALT, compress=True)


def read_frame_token(token: str, message_id: int) -> int | None:
    """The user id a frame token was made for, if it is valid for this message."""
    try:
        user_id, signed_message = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if signed_message != message_id or not isinstance(user_id, int):
        return None
    return user_id


def cid_url_maker(user_id: int, message_id: int) -> Callable[[str], str]:
    token = frame_token(user_id, message_id)

    def make(content_id: str) -> str:
        base = reverse("message_cid", args=[message_id])
        return f"{base}?{urlencode({'cid': content_id.strip().strip('<>'), 't': token})}"

    return make


def proxy_url_maker(user_id: int, message_id: int) -> Callable[[str], str]:
    token = frame_token(user_id, message_id)

    def make(url: str) -> str:
        signed = signing.dumps(url, salt=_SALT + ".proxy", compress=True)
        return f"{reverse('image_proxy', args=[message_id])}?{urlencode({'u': signed, 't': token})}"

    return make


def read_proxy_target(signed: str) -> str | None:
    try:
        url = signing.loads(signed, salt=_SALT + ".proxy", max_age=TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return url if isinstance(url, str) else None


# -- parsing and rendering ----------------------------------------------------------------
def load_parsed(message: Message) -> ParsedMessage | None:
    """The parsed stored message, or None when its bytes are not here (yet)."""
    if not message.blob_id:
        return None
    try:
        raw = blobs.get(message.blob_id)
    except blobs.BlobMissing:
        return None
    return parse_message(raw, internal_date=message.internal_date)


def text_blocks(text: str) -> tuple[TextBlock, ...]:
    """Escaped, linkified text split into plain, quoted (> lines) and signature blocks."""
    blocks: list[tuple[str, list[str]]] = []
    in_signature = False
    for line in text.splitlines():
        if line.rstrip() == "--":
            in_signature = True
        kind = "signature" if in_signature else "quote" if line.startswith(">") else "text"
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    # Escape, then find links in the escaped text: never build HTML from raw text.
    return tuple(
        TextBlock(kind=kind, html=mark_safe(  # noqa: S308 - escaped, then urlize
            urlize(escape("\n".join(lines)), nofollow=True, autoescape=False)))
        for kind, lines in blocks
    )


def _cache_key(message: Message, allow_remote: bool) -> str:
    # The secret key is in the key so tokens signed by an old key are never served.
    salt = hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:8]
    return (f"mailframe:{SANITIZER_VERSION}:{salt}:{message.account.owner_id}:{message.pk}:"
            f"{message.blob_id}:{int(allow_remote)}")


def _for_frame(parsed: ParsedMessage) -> ParsedMessage:
    """What the frame template reads besides the body (events, reports, forwarded
    messages' headers and text): kept with the rendered body, so a warm open neither
    fetches nor parses the raw message."""
    forwarded = tuple(
        dataclasses.replace(inner, html="", headers=(), attachments=(), search_text="",
                            forwarded=(), reports=(), events=())
        for inner in parsed.forwarded)
    return dataclasses.replace(parsed, text="", html="", headers=(), attachments=(),
                               search_text="", forwarded=forwarded)


def frame_content(message: Message, *, allow_remote: bool,
                  ) -> tuple[ParsedMessage, RenderedBody] | None:
    """The frame's parsed parts and rendered body, from the cache when they are there;
    None when the message's bytes are not stored."""
    key = _cache_key(message, allow_remote)
    cached = cache.get(key)
    if isinstance(cached, tuple) and len(cached) == 2:
        frame, body = cached
        if isinstance(frame, ParsedMessage) and isinstance(body, CachedBody):
            return frame, body.rendered()
    parsed = load_parsed(message)
    if parsed is None:
        return None
    rendered = render_body(message, parsed, allow_remote=allow_remote)
    cache.set(key, (_for_frame(parsed), CachedBody.of(rendered)), CACHE_SECONDS)
    return parsed, rendered


@dataclass(frozen=True)
class CachedBody:
    """A RenderedBody as plain strings (SafeString does not survive every cache)."""

    is_html: bool
    html: str
    blocks: tuple[tuple[str, str], ...]
    has_remote_content: bool
    tracking_pixels: int

    @classmethod
    def of(cls, body: RenderedBody) -> CachedBody:
        return cls(body.is_html, str(body.html), tuple((b.kind, str(b.html)) for b in body.blocks),
                   body.has_remote_content, body.tracking_pixels)

    def rendered(self) -> RenderedBody:
        # Cached by us from sanitize_html's output or escaped, linkified text.
        return RenderedBody(
            is_html=self.is_html, html=mark_safe(self.html),  # noqa: S308
            blocks=tuple(TextBlock(kind, mark_safe(html))  # noqa: S308
                         for kind, html in self.blocks),
            has_remote_content=self.has_remote_content, tracking_pixels=self.tracking_pixels)


def render_body(message: Message, parsed: ParsedMessage, *, allow_remote: bool) -> RenderedBody:
    """The body for the frame: escaped text blocks, or sanitized HTML (frame_content
    caches it)."""
    if not parsed.html:
        return RenderedBody(is_html=False, blocks=text_blocks(parsed.text))
    user_id = int(message.account.owner_id)
    # Tracking pixels are never fetched, even once images are shown.
    blocker = proxy.PixelBlocker(parsed.html, proxy_url_maker(user_id, message.pk))
    result = sanitize_html(
        parsed.html,
        allow_remote=allow_remote,
        proxy_url=blocker,
        cid_url=cid_url_maker(user_id, message.pk),
    )
    return RenderedBody(
        is_html=True,
        html=mark_safe(result.html),  # noqa: S308 - the output of sanitize_html
        has_remote_content=result.has_remote_content,
        tracking_pixels=blocker.count,
    )
