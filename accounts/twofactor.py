"""Two-factor login: TOTP devices (django-otp) and one-time recovery codes."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, Subquery
from django_otp import device_classes, devices_for_user, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SiteSettings, User

RECOVERY_CODE_COUNT = 10


def is_enrolled(user: User) -> bool:
    return bool(user_has_device(user, confirmed=True))


def is_required(user: User) -> bool:
    return user.require_2fa or SiteSettings.current().require_2fa_for_all


def second_step(user: User) -> str | None:
    """What a password-only session must do next: "verify" (the person has a confirmed
    device), "setup" (a second factor is required and there is none) or None.

    Asked on every request, so in one query (is_enrolled and is_required take three):
    an Exists per device model of django-otp, and the site-wide setting.
    """
    enrolled = {f"device_{n}": Exists(model.objects.devices_for_user(user, confirmed=True))
                for n, model in enumerate(device_classes())}
    site = SiteSettings.objects.filter(pk=1).values("require_2fa_for_all")[:1]
    row = (User.objects.filter(pk=user.pk)
           .annotate(**enrolled, site_requires=Subquery(site))
           .values("require_2fa", "site_requires", *enrolled).first())
    if row is None:
        return None
    if any(row[name] for name in enrolled):
        return "verify"
    if row["require_2fa"] or row["site_requires"]:
        return "setup"
    return None


def pending_totp_device(user: User) -> TOTPDevice:
    """The unconfirmed device shown on the setup page (one per person)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def confirm_totp(user: User, token: str) -> list[str] | None:
    """Confirm the pending device with a code from the app; returns new recovery codes."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip().replace(" ", "")):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_recovery_codes(user)


@transaction.atomic
def new_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes; each works once."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Recovery codes", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def verify(user: User, token: str) -> TOTPDevice | StaticDevice | None:
    """The device that accepts the code (an app code or a recovery code), if any."""
    token = token.strip().replace(" ", "")
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                return device  # type: ignore[no-any-return]
    return None


@transaction.atomic
def disable(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
