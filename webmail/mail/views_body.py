"""A message's body frame, its inline (cid:) images, attachments and the image proxy.

The body is its own document, shown in `<iframe sandbox>` without allow-scripts or
allow-same-origin, with a Content-Security-Policy that allows no script, no network
but our own /mail/ URLs and data: images, and inline styles only. Requests from inside
the frame (cid: images, proxied images, "Show images") carry a signed frame token,
since an opaque-origin frame does not send the session cookie.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from accounts.models import User
from webmail.mail import blobs, body, preferences, proxy
from webmail.mail.access import get_attachment_for_user, get_message_for_user
from webmail.mail.models import Attachment, Message
from webmail.parsing.mime import get_part

# Inline images we serve from the stored message. No SVG: it can carry script if the
# URL is ever opened as a document.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Attachments keep their declared type only when it is harmless; the rest download as
# bytes (Content-Disposition: attachment either way).
DOWNLOAD_TYPES = INLINE_IMAGE_TYPES | {"application/pdf", "text/plain"}
# Anything sent from these views that a browser might try to render runs nothing.
LOCKED_CSP = "default-src 'none'; sandbox"
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\\"]+")


def _frame_message(request: HttpRequest, message_id: int) -> Message:
    """The message for the session's person, or for the person a frame token names."""
    if request.user.is_authenticated:
        return get_message_for_user(request.user, message_id)
    user_id = body.read_frame_token(request.GET.get("t", ""), message_id)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise Http404("No such message.")
    return get_message_for_user(user, message_id)


def _frame_csp(request: HttpRequest) -> str:
    origin = f"{request.scheme}://{request.get_host()}"
    return "; ".join([
        "default-src 'none'",
        f"img-src {origin}/mail/ data:",
        "style-src 'unsafe-inline'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    ])


@require_GET
@xframe_options_sameorigin
def message_body(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _frame_message(request, message_id)
    if not message.blob_id:
        raise Http404("The body of this message is not stored.")
    owner = request.user if request.user.pk == message.account.owner_id \
        else message.account.owner
    assert isinstance(owner, User)
    prefs = preferences.for_user(owner)
    policy = prefs.remote_images
    allow_remote = preferences.allows_remote_images(owner, message, prefs=prefs) or (
        policy != "never" and request.GET.get("images") == "1")
    content = body.frame_content(message, allow_remote=allow_remote)
    if content is None:
        raise Http404("The body of this message is not stored.")
    parsed, rendered = content
    token = body.frame_token(int(message.account.owner_id), message.pk)
    show_images = reverse("message_body", args=[message.pk])
    context = {
        "message": message,
        "parsed": parsed,
        "body": rendered,
        "remote_blocked": rendered.has_remote_content and not allow_remote,
        "images_never": policy == "never",
        "show_images_url": f"{show_images}?{urlencode({'images': '1', 't': token})}",
        "trust_sender_url": (
            f"{reverse('trust_images', args=[message.pk])}?{urlencode({'t': token})}"
            if message.from_address else ""),
    }
    response = render(request, "mail/body_frame.html", context)
    response["Content-Security-Policy"] = _frame_csp(request)
    response["Referrer-Policy"] = "no-referrer"
    patch_cache_control(response, private=True, max_age=0)
    return response


def _image_response(data: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Security-Policy"] = LOCKED_CSP
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, max_age=3600)
    return response


@require_GET
def message_cid(request: HttpRequest, message_id: int) -> HttpResponse:
    """An inline image of the message, by Content-ID (what `cid:` URLs point at)."""
    message = _frame_message(request, message_id)
    wanted = request.GET.get("cid", "").strip().strip("<>")
    part = (
        Attachment.objects.filter(message=message, content_id__iexact=wanted).first()
        if wanted else None
    )
    if part is None or part.content_type.lower() not in INLINE_IMAGE_TYPES or not message.blob_id:
        raise Http404("No such inline image.")
    try:
        data = get_part(blobs.get(message.blob_id), part.part_path)
    except blobs.BlobMissing as exc:
        raise Http404("The message is not stored.") from exc
    return _image_response(data, part.content_type.lower())


def download_filename(name: str) -> str:
    cleaned = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return cleaned[:150] or "attachment"


@login_required
@require_GET
def attachment(request: HttpRequest, message_id: int, attachment_id: int) -> HttpResponse:
    part = get_attachment_for_user(request.user, message_id, attachment_id)
    blob_id = part.message.blob_id
    if not blob_id:
        raise Http404("The message is not stored.")
    try:
        data = get_part(blobs.get(blob_id), part.part_path)
    except blobs.BlobMissing as exc:
        raise Http404("The message is not stored.") from exc
    declared = part.content_type.lower()
    content_type = declared if declared in DOWNLOAD_TYPES else "application/octet-stream"
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=download_filename(part.filename))
        or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = LOCKED_CSP
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_GET
def image_proxy(request: HttpRequest, message_id: int) -> HttpResponse:
    """A remote image of a message the person chose to show, fetched by us."""
    _frame_message(request, message_id)
    target = body.read_proxy_target(request.GET.get("u", ""))
    if target is None:
        raise Http404("No such image.")
    try:
        fetched = proxy.fetch_image(target)
    except proxy.ProxyRefused as exc:
        raise Http404("This image could not be loaded.") from exc
    return _image_response(fetched.data, fetched.content_type)
