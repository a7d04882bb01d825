"""Driving the provider's authorization step for the Django test client."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

import requests
from django.http import HttpResponse
from django.test import Client


def authorize(authorization_url: str) -> str:
    """Follow the provider's consent (it approves at once); the callback path + query."""
    response = requests.get(authorization_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = urlparse(response.headers["Location"])
    return f"{location.path}?{location.query}"


def provider_url(response: HttpResponse) -> str:
    """The provider URL of the page that moves the browser on (see views._to_provider)."""
    assert response.status_code == 200
    found = re.search(r'id="oauth-continue" href="([^"]+)"', response.content.decode())
    assert found, response.content.decode()
    return html.unescape(found.group(1))


def start_connect(client: Client, oauth_client_id: int, email: str) -> str:
    return provider_url(client.post(f"/accounts/connect/{oauth_client_id}/",
                                    {"email": email}))
