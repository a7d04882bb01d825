"""Encryption at rest for upstream credentials (passwords, tokens).

MultiFernet over settings.CREDENTIAL_KEYS: the first key encrypts, every key decrypts,
so keys can be rotated: add a new key first, run `manage.py rotate_credentials`, then
remove the old one.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_UNDECRYPTABLE = "A stored credential cannot be decrypted with the configured keys."


class CredentialError(Exception):
    """A stored credential cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise CredentialError("No credential keys are configured (WEBMAIL_CREDENTIAL_KEYS).")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIAL_KEYS))


def encrypt(secret: str) -> str:
    """Encrypt a secret; the empty string stays empty (no credential)."""
    if not secret:
        return ""
    return _current().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(_UNDECRYPTABLE) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the first key (it must decrypt with one of the keys)."""
    if not token:
        return ""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(_UNDECRYPTABLE) from exc
