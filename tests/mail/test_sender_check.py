"""Who sent it, as the person sees it in the reading pane: verified on first open with a
test resolver (settings.DKIM_DNS_LOOKUP), kept, and shown from the store afterwards."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_account
from tests.mail.test_authenticity import KeyServer, message, signed
from tests.mail.ui_factories import make_folder, make_full_message
from webmail.mail.models import Folder, Message, SenderCheck

pytestmark = pytest.mark.django_db

HTMX_READER = {"HX-Request": "true", "HX-Target": "reader"}
# settings.DKIM_DNS_LOOKUP names this; each test publishes the keys it needs.
KEYS = KeyServer()


@pytest.fixture(scope="module")
def bank_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def resolver(settings: object, bank_key: rsa.RSAPrivateKey) -> KeyServer:
    settings.DKIM_DNS_LOOKUP = f"{__name__}.KEYS"  # type: ignore[attr-defined]
    KEYS.records.clear()
    KEYS.asked.clear()
    KEYS.publish("mail2026", "bank.test", bank_key)
    return KEYS


@pytest.fixture
def inbox(alice: User) -> Folder:
    return make_folder(make_account(alice, incoming_host="imap.provider.test"))


def text(html: str) -> str:
    """What a person reads: tags dropped, entities of our own output resolved."""
    plain = re.sub(r"<[^>]+>", " ", html)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'")
    return " ".join(plain.replace("&amp;", "&").split())


def open_reader(client: Client, shown: Message) -> str:
    response = client.get(reverse("message", args=[shown.pk]), headers=HTMX_READER)
    assert response.status_code == 200
    return response.content.decode()


def sender_fragment(client: Client, shown: Message) -> str:
    response = client.get(reverse("message_sender", args=[shown.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_signed_message_is_verified_on_first_open_then_shown_from_the_store(
        alice_client: Client, inbox: Folder, bank_key: rsa.RSAPrivateKey) -> None:
    shown = make_full_message(inbox, signed(message(), bank_key))

    first = open_reader(alice_client, shown)
    # The pane does not wait on DNS: it asks for the verdict after it is shown.
    assert KEYS.asked == []
    assert 'hx-get="' + reverse("message_sender", args=[shown.pk]) in first
    assert "Checking who sent this message" in text(first)

    verdict = text(sender_fragment(alice_client, shown))
    assert "Verified: sent by bank.test" in verdict
    assert "DKIM verified: signed by bank.test (selector mail2026)" in verdict
    assert KEYS.asked == [b"mail2026._domainkey.bank.test."]

    again = text(open_reader(alice_client, shown))
    assert "Verified: sent by bank.test" in again
    assert "Checking who sent" not in again
    assert KEYS.asked == [b"mail2026._domainkey.bank.test."]  # no second lookup
    assert SenderCheck.objects.filter(message=shown).count() == 1


def test_a_changed_signed_message_warns_that_the_from_domain_failed(
        alice_client: Client, inbox: Folder, bank_key: rsa.RSAPrivateKey) -> None:
    raw = signed(message(), bank_key).replace(b"statement is ready", b"account is locked")
    shown = make_full_message(inbox, raw)

    verdict = text(sender_fragment(alice_client, shown))

    assert "Could not verify the sender (bank.test)" in verdict
    assert "DKIM failed for bank.test: the body was changed after it was signed" in verdict
    assert "The signature of bank.test does not verify" in verdict


def test_name_imitating_an_address_and_a_foreign_reply_to_are_warned_about(
        alice_client: Client, inbox: Folder) -> None:
    raw = message(sender='"support@bank.test" <help@evil.test>',
                  reply_to="refunds@collect.evil2.test")
    shown = make_full_message(inbox, raw)

    verdict = text(sender_fragment(alice_client, shown))

    assert "The sender could not be verified" in verdict
    assert "DKIM: no signature" in verdict
    assert "The sender's name shows support@bank.test, but the message is from " \
           "help@evil.test." in verdict
    assert "Replies go to refunds@collect.evil2.test, not to the sender's domain " \
           "evil.test." in verdict


def test_results_are_read_from_the_accounts_own_server_only(
        alice_client: Client, inbox: Folder) -> None:
    ours = ("Authentication-Results: mx.provider.test; spf=pass smtp.mailfrom=bank.test; "
            "dkim=none; dmarc=fail header.from=bank.test\r\n")
    forged = ("Authentication-Results: imap.provider.test; spf=pass; dkim=pass "
              "header.d=bank.test; dmarc=pass\r\n")
    account = inbox.account
    account.authserv_id = "mx.provider.test"
    account.save(update_fields=["authserv_id"])
    shown = make_full_message(inbox, message(extra=forged + ours))

    verdict = text(sender_fragment(alice_client, shown))

    assert "Your provider's server: SPF pass · DKIM none · DMARC fail" in verdict
    assert "bank.test failed DMARC at our server" in verdict
    assert "Could not verify the sender (bank.test)" in verdict

    # Another setting makes the kept verdict stale: it is computed again.
    account.authserv_id = ""
    account.save(update_fields=["authserv_id"])
    assert "Checking who sent" in text(open_reader(alice_client, shown))
    verdict = text(sender_fragment(alice_client, shown))
    assert "Verified: sent by bank.test" in verdict  # imap.provider.test is now trusted


def test_the_account_form_edits_the_authserv_id(alice_client: Client, inbox: Folder) -> None:
    from accounts.forms import MailAccountForm

    form = MailAccountForm(instance=inbox.account)
    assert "authserv_id" in form.fields


def test_another_persons_sender_check_is_not_found(
        bob_client: Client, inbox: Folder, bank_key: rsa.RSAPrivateKey) -> None:
    shown = make_full_message(inbox, signed(message(), bank_key))

    response = bob_client.get(reverse("message_sender", args=[shown.pk]))

    assert response.status_code == 404
    assert KEYS.asked == []


# -- as the person sees it ------------------------------------------------------------------
PANEL_STYLE = """el => {
  const root = getComputedStyle(document.documentElement);
  const box = getComputedStyle(el);
  const summary = getComputedStyle(el.querySelector('.sender-summary'));
  return {edge: box.borderLeftColor, edgeWidth: box.borderLeftWidth,
          background: box.backgroundColor, summary: summary.color,
          ok: root.getPropertyValue('--ok').trim(), err: root.getPropertyValue('--err').trim(),
          right: el.getBoundingClientRect().right,
          width: document.documentElement.scrollWidth};
}"""


def rgb(value: str) -> tuple[int, ...]:
    """'#1e7d32' or 'rgb(30, 125, 50)' as (r, g, b)."""
    if value.startswith("#"):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(part)) for part in re.findall(r"[\d.]+", value)[:3])


def contrast(one: tuple[int, ...], two: tuple[int, ...]) -> float:
    """WCAG 2 contrast ratio of two opaque colours."""
    def luminance(colour: tuple[int, ...]) -> float:
        channels = [c / 255 for c in colour]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                  for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_panel_shows_its_state_and_its_warnings_on_a_phone_in_both_themes(
        browser: Any, live_server: Any, alice: User, inbox: Folder,
        bank_key: rsa.RSAPrivateKey, scheme: str) -> None:
    verified = make_full_message(inbox, signed(message(), bank_key))
    failed = make_full_message(inbox, signed(message(), bank_key).replace(
        b"statement is ready", b"account is locked"))
    client = Client()
    client.force_login(alice)
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  color_scheme=scheme)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        seen = {}
        for shown in (verified, failed):
            page.goto(f"{live_server.url}/mail/message/{shown.pk}/")
            # The placeholder asks for the verdict and is replaced by it.
            panel = page.locator("#sender-check[data-status]")
            panel.wait_for(state="visible")
            seen[panel.get_attribute("data-status")] = panel.evaluate(PANEL_STYLE)
            if shown == failed:
                warning = panel.locator(".sender-warning").first
                assert warning.is_visible()
                box = warning.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    finally:
        context.close()

    assert set(seen) == {"verified", "failed"}
    for status, style in seen.items():
        expected = style["ok"] if status == "verified" else style["err"]
        assert rgb(style["edge"]) == rgb(expected) and style["edgeWidth"] == "4px"
        assert rgb(style["summary"]) == rgb(expected)
        # Readable in this theme: the verdict's colour against the panel's background.
        assert contrast(rgb(style["summary"]), rgb(style["background"])) >= 4.5, style
        assert style["right"] <= 360 and style["width"] <= 360, style
    dark_background = sum(rgb(seen["failed"]["background"])) < 3 * 128
    assert dark_background == (scheme == "dark")
