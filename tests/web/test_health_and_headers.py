from __future__ import annotations

import socket

import pytest
from django.test import Client

from accounts.models import User


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.django_db
def test_healthz_answers_200_when_database_and_broker_answer() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failed": []}


@pytest.mark.django_db
def test_healthz_says_503_and_names_the_broker_when_redis_is_down(settings: object) -> None:
    settings.CELERY_BROKER_URL = _refused_url()  # type: ignore[attr-defined]
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_every_page_carries_the_security_headers(alice: User, alice_client: Client) -> None:
    response = alice_client.get("/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_page_loads_htmx_locally_and_sends_csrf_with_htmx(
    alice: User, alice_client: Client
) -> None:
    page = alice_client.get("/").content.decode()
    assert "hx-headers='{\"X-CSRFToken\"" in page
    assert "/static/django_htmx/" in page or "htmx" in page
    assert "https://" not in page.split("<body")[0]
