"""A person's mail as files: export a folder or everything, import into a folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from webmail.mail import actions, blobs, mailboxes
from webmail.mail.models import Folder, Message


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _exportable(user: User, folder: Folder | None) -> QuerySet[Message]:
    rows = Message.objects.filter(account__owner=user, blob__isnull=False)
    if folder is not None:
        rows = rows.filter(folder=folder)
    return rows.order_by("folder_id", "date", "id")


class ImportForm(forms.Form):
    folder = forms.ModelChoiceField(label=_("Folder"), queryset=Folder.objects.none())
    file = forms.FileField(label=_("File"),
                           help_text=_("An .eml file, an mbox file, or a zip of .eml files."))

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["folder"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Folder.objects.filter(account__owner=user, selectable=True).select_related(
            "account"
        )
        field.label_from_instance = lambda f: f"{f.account.email} — {f.name}"  # type: ignore[method-assign,assignment]


@login_required
@require_GET
def export_mail(request: HttpRequest) -> StreamingHttpResponse:
    user = _user(request)
    folder_id = request.GET.get("folder", "")
    folder = (
        get_object_or_404(Folder, pk=int(folder_id), account__owner=user)
        if folder_id.isdigit() else None
    )
    rows = _exportable(user, folder)
    stem = f"mail-{folder.name}" if folder else "mail-all"
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
    if request.GET.get("format") == "zip":
        return _zip_response(rows, stem)
    response = StreamingHttpResponse(_mbox_stream(rows), content_type="application/mbox")
    response["Content-Disposition"] = f'attachment; filename="{stem}.mbox"'
    return response


def _mbox_stream(rows: QuerySet[Message]) -> Iterator[bytes]:
    # One blob in memory at a time, however big the mailbox.
    fields = rows.values_list("blob_id", "from_address", "internal_date")
    for blob_id, sender, when in fields.iterator():
        yield mailboxes.mbox_entry(blobs.get(blob_id), sender=sender, when=when)


def _zip_response(rows: QuerySet[Message], stem: str) -> FileResponse:
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
    entries = (
        (f"{folder}/{index:06d}.eml", blobs.get(blob_id))
        for index, (blob_id, folder) in enumerate(
            rows.values_list("blob_id", "folder__name").iterator(), start=1
        )
    )
    mailboxes.write_eml_zip(spool, entries)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=f"{stem}.zip",
                        content_type="application/zip")


@login_required
@require_http_methods(["GET", "POST"])
def import_mail(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ImportForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.WEBMAIL_MAX_IMPORT_BYTES:
            form.add_error("file", "This file is too large to import here.")
        else:
            try:
                count = _import(form.cleaned_data["folder"], upload.name, upload.read())
            except mailboxes.ImportFormatError as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(request, f"Imported {count} messages.")
                return redirect("data_import")
    folders = Folder.objects.filter(account__owner=user).select_related("account")
    return render(request, "data/export_import.html", {"form": form, "folders": folders})


def _import(folder: Folder, name: str, data: bytes) -> int:
    count = 0
    for raw in mailboxes.read_upload(name, data):
        actions.append_message(folder=folder, raw=raw, seen=True)
        count += 1
    return count
