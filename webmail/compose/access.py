"""The one way a compose view loads an object by id: the owner's, or a 404."""

from __future__ import annotations

from django.http import Http404

from accounts.models import User
from webmail.compose.models import Draft, DraftAttachment, DraftState, Identity, Outbox


def _owner_id(user: object) -> int:
    if not isinstance(user, User) or user.pk is None:
        raise Http404
    return int(user.pk)


def get_draft_for_user(user: object, draft_id: int, *, open_only: bool = True) -> Draft:
    rows = Draft.objects.select_related("account", "identity").filter(
        pk=draft_id, owner_id=_owner_id(user))
    if open_only:
        rows = rows.filter(state=DraftState.OPEN)
    draft = rows.first()
    if draft is None:
        raise Http404("No such draft.")
    return draft


def get_draft_attachment_for_user(user: object, draft_id: int,
                                  attachment_id: int) -> DraftAttachment:
    attachment = DraftAttachment.objects.filter(
        pk=attachment_id, draft_id=draft_id, draft__owner_id=_owner_id(user)).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def get_outbox_for_user(user: object, outbox_id: int) -> Outbox:
    row = Outbox.objects.select_related("account").filter(
        pk=outbox_id, owner_id=_owner_id(user)).first()
    if row is None:
        raise Http404("No such message in the outbox.")
    return row


def get_identity_for_user(user: object, identity_id: int) -> Identity:
    identity = Identity.objects.select_related("account").filter(
        pk=identity_id, account__owner_id=_owner_id(user)).first()
    if identity is None:
        raise Http404("No such identity.")
    return identity
