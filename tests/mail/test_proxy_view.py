"""The image proxy URL the body frame uses: signed, bound to the person and message."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from accounts.models import User
from tests.conftest import make_account
from tests.mail.test_proxy import PNG, image_server  # noqa: F401 - fixture
from webmail.mail import body
from webmail.mail.models import Folder, Message

pytestmark = pytest.mark.django_db


def a_message(owner: User) -> Message:
    account = make_account(owner)
    folder = Folder.objects.create(account=account, name="INBOX")
    return Message.objects.create(account=account, folder=folder, subject="Pictures")


def test_a_signed_image_url_is_served_from_the_frame_without_a_session(
    alice: User, settings: Settings, image_server: str  # noqa: F811
) -> None:
    settings.WEBMAIL_PROXY_ALLOW_PRIVATE = True
    message = a_message(alice)
    url = body.proxy_url_maker(alice.pk, message.pk)(f"{image_server}/logo.png")

    response = Client().get(url)  # the sandboxed frame sends no cookie

    assert response.status_code == 200
    assert response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "private" in response["Cache-Control"]


def test_a_bad_signature_is_refused(alice: User, settings: Settings, image_server: str) -> None:  # noqa: F811
    settings.WEBMAIL_PROXY_ALLOW_PRIVATE = True
    message = a_message(alice)
    url = body.proxy_url_maker(alice.pk, message.pk)(f"{image_server}/logo.png")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    forged_target = query["u"][0][:-3] + "abc"
    forged_token = query["t"][0][:-3] + "abc"

    assert Client().get(parts.path, {"u": forged_target, "t": query["t"][0]}).status_code == 404
    assert Client().get(parts.path, {"u": query["u"][0], "t": forged_token}).status_code == 404
    assert Client().get(parts.path, {"u": query["u"][0]}).status_code == 404


def test_another_persons_token_opens_nothing(alice: User, bob: User) -> None:
    alices = a_message(alice)
    bobs = a_message(bob)
    url = body.proxy_url_maker(bob.pk, bobs.pk)("https://images.example.test/a.png")
    query = parse_qs(urlsplit(url).query)
    alices_path = urlsplit(body.proxy_url_maker(alice.pk, alices.pk)("x")).path

    response = Client().get(alices_path, {"u": query["u"][0], "t": query["t"][0]})

    assert response.status_code == 404
