"""Uploaded files of a draft: size-checked, stored as blobs."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db.models import Sum

from webmail.compose import conf
from webmail.compose.models import Draft, DraftAttachment
from webmail.mail import blobs

CHUNK = 1024 * 1024


class AttachmentTooLarge(ValueError):
    pass


def _megabytes(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def add_upload(draft: Draft, upload: UploadedFile) -> DraftAttachment:
    """Store one uploaded file; the limit is per message (all files together), as the
    receiving servers count it."""
    limit = conf.max_attachment_bytes()
    used = DraftAttachment.objects.filter(draft=draft).aggregate(total=Sum("size"))["total"]
    size = upload.size or 0
    name = (upload.name or "attachment")[:255]
    if size + (used or 0) > limit:
        raise AttachmentTooLarge(
            f"“{name}” ({_megabytes(size)}) would take the attachments past the "
            f"{_megabytes(limit)} limit.")
    data = b"".join(upload.chunks(CHUNK))
    content_type = (upload.content_type or "application/octet-stream")[:255]
    return DraftAttachment.objects.create(draft=draft, filename=name,
                                          content_type=content_type, size=len(data),
                                          blob=blobs.put(data))
