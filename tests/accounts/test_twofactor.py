from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SiteSettings, User
from tests.conftest import DEFAULT_PASSWORD, make_user


def _code(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def _login(username: str) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def _enrol(client: Client, user: User) -> list[str]:
    client.get(reverse("twofactor_setup"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("twofactor_setup"), {"token": _code(device)})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    return list(codes)


@pytest.mark.django_db
def test_totp_login_asks_for_a_code_after_the_password() -> None:
    alice = make_user("alice")
    recovery = _enrol(_login("alice"), alice)
    assert recovery

    client = _login("alice")
    response = client.get(reverse("account_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor_verify"))

    response = client.post(reverse("twofactor_verify"), {"token": "000000", "next": "/accounts/"})
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("account_list")).status_code == 302

    device = TOTPDevice.objects.get(user=alice, confirmed=True)
    time.sleep(1.1)  # django-otp throttles the attempt right after a wrong code
    # The next time step: the enrolment code cannot be replayed.
    response = client.post(
        reverse("twofactor_verify"), {"token": _code(device, 1), "next": "/accounts/"}
    )
    assert response.status_code == 302
    assert client.get(reverse("account_list")).status_code == 200


@pytest.mark.django_db
def test_a_recovery_code_works_once() -> None:
    alice = make_user("alice")
    codes = _enrol(_login("alice"), alice)

    client = _login("alice")
    assert client.post(reverse("twofactor_verify"), {"token": codes[0]}).status_code == 302
    assert client.get(reverse("account_list")).status_code == 200

    again = _login("alice")
    response = again.post(reverse("twofactor_verify"), {"token": codes[0]})
    assert "That code is not right" in response.content.decode()
    assert again.get(reverse("account_list")).status_code == 302


@pytest.mark.django_db
def test_required_two_factor_forces_setup_first() -> None:
    make_user("alice", require_2fa=True)
    client = _login("alice")
    response = client.get(reverse("account_list"))
    assert response["Location"] == reverse("twofactor_setup")


@pytest.mark.django_db
def test_the_admin_can_require_two_factor_for_everyone() -> None:
    make_user("bob")
    site = SiteSettings.current()
    site.require_2fa_for_all = True
    site.save()
    assert _login("bob").get("/").headers["Location"] == reverse("twofactor_setup")


@pytest.mark.django_db
def test_turning_two_factor_off_needs_the_password() -> None:
    alice = make_user("alice")
    client = _login("alice")
    _enrol(client, alice)
    client.post(reverse("twofactor_disable"), {"password": "wrong"})
    assert TOTPDevice.objects.filter(user=alice).exists()
    client.post(reverse("twofactor_disable"), {"password": DEFAULT_PASSWORD})
    assert not TOTPDevice.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_second_step_is_read_in_one_query(django_assert_num_queries: Any) -> None:
    """The middleware asks on every request: one query whatever the answer."""
    from django_otp.plugins.otp_static.models import StaticDevice

    from accounts.twofactor import second_step

    carol = make_user("carol")
    with django_assert_num_queries(1):
        assert second_step(carol) is None
    TOTPDevice.objects.create(user=carol, name="app", confirmed=False)
    assert second_step(carol) is None  # an unconfirmed device asks for nothing yet
    carol.require_2fa = True
    carol.save()
    with django_assert_num_queries(1):
        assert second_step(carol) == "setup"
    StaticDevice.objects.create(user=carol, name="Recovery codes", confirmed=True)
    with django_assert_num_queries(1):
        assert second_step(carol) == "verify"
    dave = make_user("dave")
    site = SiteSettings.current()
    site.require_2fa_for_all = True
    site.save()
    assert second_step(dave) == "setup"
