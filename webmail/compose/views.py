"""Compose pages: the editor, autosave, attachments, send and undo, the outbox.

Views are interfaces only: an access helper loads every object by id (404 for anyone
else), a form checks the input, one function in drafts/sending/outbox does the work.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from webmail.compose import conf, outbox
from webmail.compose.access import (
    get_draft_attachment_for_user,
    get_draft_for_user,
    get_identity_for_user,
    get_outbox_for_user,
)
from webmail.compose.attachments import AttachmentTooLarge, add_upload
from webmail.compose.contacts import suggest
from webmail.compose.drafts import discard_draft, new_draft, save_draft
from webmail.compose.forms import DraftForm, IdentityForm
from webmail.compose.identities import identities_for_user, save_identity
from webmail.compose.models import Draft, DraftState, Outbox, OutboxState, ReplyKind
from webmail.compose.quoting import start_forward, start_reply
from webmail.compose.sending import SendError, send_draft
from webmail.mail.access import get_message_for_user
from webmail.mail.views_common import person


def _editor(request: HttpRequest, draft: Draft, form: DraftForm | None = None,
            status: int = 200) -> HttpResponse:
    form = form or DraftForm(user=person(request), initial={
        "identity": draft.identity, "to": draft.to, "cc": draft.cc, "bcc": draft.bcc,
        "subject": draft.subject, "body_html": draft.body_html, "body_text": draft.body_text,
        "plain_text": draft.plain_text})
    return render(request, "compose/draft.html", {
        "draft": draft, "form": form, "attachments": draft.attachments.all(),
        "max_bytes": conf.max_attachment_bytes(),
        "undo_seconds": int(conf.get("WEBMAIL_UNDO_SECONDS")),
        # compose.js swaps the signature when the person picks another identity.
        "signatures": {str(i.pk): {"html": i.signature_html, "text": i.signature_text}
                       for i in identities_for_user(person(request))},
    }, status=status)


@login_required
@require_GET
def compose(request: HttpRequest) -> HttpResponse:
    """A new message from the chosen (or default) identity; ?to= prefills."""
    identities = identities_for_user(person(request))
    if not identities:
        messages.info(request, _("Add a mail account before writing a message."))
        return redirect("account_list")
    wanted = request.GET.get("identity", "")
    identity = next((i for i in identities if str(i.pk) == wanted), identities[0])
    body = f"<p><br></p><p>-- <br>{identity.signature_html}</p>" if identity.signature_html \
        else ""
    draft = new_draft(owner=person(request), account=identity.account, identity=identity,
                      to=request.GET.get("to", "")[:2000], body_html=body,
                      body_text=f"\n\n-- \n{identity.signature_text}" if identity.signature_text
                      else "")
    return redirect("draft_edit", draft_id=draft.pk)


@login_required
@require_POST
def reply(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_message_for_user(person(request), message_id)
    kind = request.POST.get("kind", ReplyKind.REPLY)
    if kind in (ReplyKind.REPLY, ReplyKind.REPLY_ALL):
        draft = start_reply(owner=person(request), message=message, kind=kind)
    elif kind in (ReplyKind.FORWARD, ReplyKind.FORWARD_ATTACHED):
        draft = start_forward(owner=person(request), message=message,
                              attached=kind == ReplyKind.FORWARD_ATTACHED)
    else:
        raise Http404("Unknown kind of reply.")
    return redirect("draft_edit", draft_id=draft.pk)


@login_required
@require_GET
def draft_edit(request: HttpRequest, draft_id: int) -> HttpResponse:
    return _editor(request, get_draft_for_user(person(request), draft_id))


@login_required
@require_POST
def draft_save(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Autosave (fetch every few seconds, sendBeacon on leaving): JSON, no page."""
    draft = get_draft_for_user(person(request), draft_id)
    form = DraftForm(request.POST, user=person(request))
    if not form.is_valid():
        return JsonResponse({"saved": False, "errors": form.errors}, status=400)
    draft = save_draft(draft, **form.draft_fields())
    return JsonResponse({"saved": True, "version": draft.version,
                         "saved_at": draft.updated_at.isoformat()})


@login_required
@require_POST
def draft_send(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = get_draft_for_user(person(request), draft_id)
    form = DraftForm(request.POST, user=person(request))
    if not form.is_valid():
        return _editor(request, draft, form, status=400)
    draft = save_draft(draft, push=False, **form.draft_fields())
    try:
        row = send_draft(draft, scheduled_at=form.cleaned_data.get("send_at"))
    except SendError as exc:
        form.add_error(None, str(exc))
        return _editor(request, draft, form, status=400)
    if row.scheduled_at:
        messages.success(request, _("Your message will be sent at the time you chose."))
    else:
        messages.success(request, _("Sending your message…"))
    return redirect(f"{reverse('outbox')}#outbox-{row.pk}")


@login_required
@require_POST
def draft_discard(request: HttpRequest, draft_id: int) -> HttpResponse:
    discard_draft(get_draft_for_user(person(request), draft_id))
    messages.info(request, _("Draft discarded."))
    return redirect("drafts")


@login_required
@require_POST
def attachment_upload(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = get_draft_for_user(person(request), draft_id)
    errors = []
    for upload in request.FILES.getlist("files"):
        try:
            add_upload(draft, upload)
        except AttachmentTooLarge as exc:
            errors.append(str(exc))
    return render(request, "compose/partials/attachments.html", {
        "draft": draft, "attachments": draft.attachments.all(), "errors": errors,
        "max_bytes": conf.max_attachment_bytes(),
    }, status=413 if errors else 200)


@login_required
@require_POST
def attachment_delete(request: HttpRequest, draft_id: int, attachment_id: int) -> HttpResponse:
    draft = get_draft_for_user(person(request), draft_id)
    get_draft_attachment_for_user(person(request), draft.pk, attachment_id).delete()
    return render(request, "compose/partials/attachments.html", {
        "draft": draft, "attachments": draft.attachments.all(), "errors": [],
        "max_bytes": conf.max_attachment_bytes(),
    })


@login_required
@require_GET
def drafts(request: HttpRequest) -> HttpResponse:
    rows = Draft.objects.filter(owner=person(request), state=DraftState.OPEN)[:200]
    return render(request, "compose/drafts.html", {"drafts": rows})


@login_required
@require_GET
def outbox_list(request: HttpRequest) -> HttpResponse:
    rows = (Outbox.objects.filter(owner=person(request))
            .exclude(state__in=[OutboxState.CANCELLED])
            .select_related("account")[:200])
    template = ("compose/partials/outbox_rows.html" if getattr(request, "htmx", False)
                else "compose/outbox.html")
    response = render(request, template, {"rows": rows})
    response["Vary"] = "HX-Request"
    return response


@login_required
@require_POST
def outbox_undo(request: HttpRequest, outbox_id: int) -> HttpResponse:
    row = get_outbox_for_user(person(request), outbox_id)
    if not outbox.cancel(row):
        messages.error(request, _("Too late: the message has already left."))
        return redirect("outbox")
    if row.draft_id is not None:
        messages.info(request, _("Sending cancelled. Your message is back as a draft."))
        return redirect("draft_edit", draft_id=row.draft_id)
    return redirect("outbox")


@login_required
@require_POST
def outbox_resolve(request: HttpRequest, outbox_id: int) -> HttpResponse:
    """The person's decision on an uncertain row, or a retry of a failed one."""
    row = get_outbox_for_user(person(request), outbox_id)
    action = request.POST.get("action", "")
    if action == "resend":
        done = outbox.resolve_uncertain(row, resend=True) or outbox.retry_failed(row)
    elif action == "mark_sent":
        done = outbox.resolve_uncertain(row, resend=False)
    else:
        raise Http404("Unknown action.")
    if not done:
        messages.error(request, _("That message changed meanwhile; look again."))
    return redirect("outbox")


@login_required
@require_GET
def contacts(request: HttpRequest) -> JsonResponse:
    found = suggest(person(request), request.GET.get("q", ""))
    return JsonResponse({"results": [
        {"name": c.name, "address": c.address,
         "label": f"{c.name} <{c.address}>" if c.name else c.address} for c in found]})


@login_required
def identities(request: HttpRequest, identity_id: int | None = None) -> HttpResponse:
    """From-addresses and signatures: the list, and a form to add or change one."""
    user = person(request)
    instance = get_identity_for_user(user, identity_id) if identity_id else None
    form = IdentityForm(request.POST or None, instance=instance, user=user)
    if request.method == "POST" and form.is_valid():
        save_identity(form.save(commit=False))
        messages.success(request, _("Identity saved."))
        return redirect("identities")
    return render(request, "compose/identities.html", {
        "identities": identities_for_user(user), "form": form, "editing": instance,
    }, status=400 if form.errors else 200)
