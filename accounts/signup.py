"""Who may create an account here: the admin's registration policy and invitations."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Invitation, RegistrationPolicy, SiteSettings, User

INVITATION_LIFETIME = timedelta(days=14)


class SignupRefused(Exception):
    pass


def create_invitation(*, email: str, created_by: User | None) -> Invitation:
    return Invitation.objects.create(
        email=email,
        token=secrets.token_urlsafe(32),
        created_by=created_by,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )


def valid_invitation(token: str) -> Invitation | None:
    if not token:
        return None
    return Invitation.objects.filter(
        token=token, used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


def signup_open_for(email: str, invitation_token: str = "") -> bool:
    if valid_invitation(invitation_token) is not None:
        return True
    site = SiteSettings.current()
    if site.registration_policy == RegistrationPolicy.OPEN:
        return True
    return site.registration_policy == RegistrationPolicy.DOMAINS and site.domain_allowed(email)


@transaction.atomic
def sign_up(*, username: str, email: str, password: str, invitation_token: str = "") -> User:
    if not signup_open_for(email, invitation_token):
        raise SignupRefused("Sign-up here is by invitation or for some email domains only.")
    invitation = valid_invitation(invitation_token)
    if invitation is not None:
        # select_for_update: one invitation, one account, even under a double submit.
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.used_at is not None:
            raise SignupRefused("This invitation was used already.")
        invitation.used_at = timezone.now()
        invitation.save(update_fields=["used_at"])
    return User.objects.create_user(username=username, email=email, password=password)
