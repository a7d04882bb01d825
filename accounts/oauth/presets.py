"""What Google and Microsoft need, so the admin enters only a client id and secret."""

from __future__ import annotations

from typing import Any

from accounts.oauth.models import OAuthClient, OAuthProvider

PRESETS: dict[str, dict[str, Any]] = {
    OAuthProvider.GOOGLE: {
        "authorization_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revocation_url": "https://oauth2.googleapis.com/revoke",
        "scopes": "https://mail.google.com/",
        "incoming_host": "imap.gmail.com", "incoming_port": 993, "incoming_security": "tls",
        "smtp_host": "smtp.gmail.com", "smtp_port": 465, "smtp_security": "tls",
    },
    OAuthProvider.MICROSOFT: {
        # "common": work, school and personal accounts. Microsoft offers no endpoint to
        # revoke one refresh token; a person removes the app at account.microsoft.com.
        "authorization_url":
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "revocation_url": "",
        "scopes": "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
                  "https://outlook.office.com/POP.AccessAsUser.All "
                  "https://outlook.office.com/SMTP.Send",
        "incoming_host": "outlook.office365.com", "incoming_port": 993,
        "incoming_security": "tls",
        "smtp_host": "smtp.office365.com", "smtp_port": 587, "smtp_security": "starttls",
    },
}


def apply_preset(client: OAuthClient) -> None:
    """Fill the fields the admin left empty from the provider's preset."""
    for name, value in PRESETS.get(client.provider, {}).items():
        if name == "revocation_url":
            continue  # empty can be deliberate
        if not getattr(client, name):
            setattr(client, name, value)
    if client.provider == OAuthProvider.GOOGLE and not client.revocation_url:
        client.revocation_url = PRESETS[OAuthProvider.GOOGLE]["revocation_url"]


def extra_authorization_params(client: OAuthClient) -> dict[str, str]:
    """Google hands out a refresh token only with offline access and consent."""
    if client.provider == OAuthProvider.GOOGLE:
        return {"access_type": "offline", "prompt": "consent"}
    return {}
