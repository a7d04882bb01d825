"""{% oauth_connect_links %}: "Connect with …" for every OAuth2 client the admin enabled."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.oauth.models import OAuthClient

register = template.Library()


@register.inclusion_tag("accounts/oauth/partials/connect_links.html")
def oauth_connect_links() -> dict[str, Any]:
    return {"oauth_clients": list(OAuthClient.objects.filter(enabled=True))}
