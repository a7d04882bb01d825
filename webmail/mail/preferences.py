"""Personal settings: theme, density, page size, remote images, trusted image senders.

A person without a Preferences row has the defaults; the row is created on first save.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User
from webmail.mail.models import Message, Preferences

MAX_IMAGE_SENDERS = 1000  # an allowlist, not an address book
_CACHE = "_mail_preferences"


def for_user(user: User) -> Preferences:
    found = Preferences.objects.filter(user=user).first()
    return found if found is not None else Preferences(user=user)


def for_request(request: HttpRequest) -> Preferences:
    """The person's preferences, read once per request."""
    cached: Preferences | None = getattr(request, _CACHE, None)
    if cached is None:
        user = request.user
        assert isinstance(user, User)
        cached = for_user(user)
        setattr(request, _CACHE, cached)
    return cached


def page_size(user: User) -> int:
    return int(for_user(user).page_size)


def save(*, user: User, theme: str, density: str, page_size: int,
         remote_images: str) -> Preferences:
    prefs = for_user(user)
    prefs.theme, prefs.density = theme, density
    prefs.page_size, prefs.remote_images = page_size, remote_images
    prefs.save()
    return prefs


def _address(message: Message) -> str:
    return message.from_address.strip().lower()


def allows_remote_images(user: User, message: Message, *,
                         prefs: Preferences | None = None) -> bool:
    """Whether the body frame loads remote images (through the proxy) without asking.
    Pass the person's `prefs` when they are already read."""
    prefs = prefs or for_user(user)
    if prefs.remote_images == "always":
        return True
    if prefs.remote_images == "never":
        return False
    return bool(_address(message)) and _address(message) in prefs.image_senders


def trust_sender(*, user: User, message: Message) -> None:
    """"Always show images from this sender"."""
    address = _address(message)
    if not address:
        return
    prefs = for_user(user)
    if address not in prefs.image_senders and len(prefs.image_senders) < MAX_IMAGE_SENDERS:
        prefs.image_senders = sorted([*prefs.image_senders, address])
        prefs.save()


def forget_sender(*, user: User, address: str) -> None:
    prefs = for_user(user)
    address = address.strip().lower()
    if address in prefs.image_senders:
        prefs.image_senders = [a for a in prefs.image_senders if a != address]
        prefs.save()
