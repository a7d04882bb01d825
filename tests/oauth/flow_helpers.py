"""Driving the provider's authorization step for the Django test client."""

from __future__ import annotations

from urllib.parse import urlparse

import requests
from django.test import Client


def authorize(authorization_url: str) -> str:
    """Follow the provider's consent (it approves at once); the callback path + query."""
    response = requests.get(authorization_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = urlparse(response.headers["Location"])
    return f"{location.path}?{location.query}"


def start_connect(client: Client, oauth_client_id: int, email: str) -> str:
    response = client.post(f"/accounts/connect/{oauth_client_id}/", {"email": email})
    assert response.status_code == 302
    return str(response["Location"])
