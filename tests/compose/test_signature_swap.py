"""In a real browser: picking another From identity swaps the signature, and only it.

Skips when Debian's chromium, the playwright package or the built editor assets
(scripts/build_assets.sh) are missing.
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from accounts.models import User
from tests.compose.conftest import wait_for
from tests.compose.test_browser import chromium_page  # noqa: F401  (the fixture)
from tests.conftest import make_account
from webmail.compose.identities import ensure_default_identity
from webmail.compose.models import Draft, Identity


def _open_compose(page: Any, live_server: Any, owner: User) -> None:
    client = Client()
    client.force_login(owner)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    page.goto(f"{live_server.url}/compose/")
    page.wait_for_selector("trix-editor")
    page.wait_for_function("document.querySelector('trix-editor').editor !== undefined")


def _editor_text(page: Any) -> str:
    return str(page.evaluate(
        "document.querySelector('trix-editor').editor.getDocument().toString()"))


def test_changing_identity_swaps_the_signature_and_keeps_what_was_written(
        chromium_page: Any, live_server: Any, alice: User) -> None:  # noqa: F811
    page = chromium_page
    account = make_account(alice)
    work = ensure_default_identity(account)
    work.signature_html, work.signature_text = "<strong>Alice</strong>, Work Ltd", "Alice, Work Ltd"
    work.save()
    home = Identity.objects.create(account=account, name="Alice", address=account.email,
                                   signature_html="Cheers<br>Al", signature_text="Cheers\nAl")
    bare = Identity.objects.create(account=account, name="Plain", address=account.email)

    _open_compose(page, live_server, alice)
    assert "Work Ltd" in _editor_text(page)
    page.click("trix-editor")
    page.keyboard.press("Control+Home")
    page.keyboard.type("Dear Bob, see you at noon.")

    page.select_option("#id_identity", str(home.pk))
    text = _editor_text(page)
    assert "Dear Bob, see you at noon." in text
    assert "Cheers\nAl" in text and "Work Ltd" not in text
    assert text.count("-- \n") == 1

    page.select_option("#id_identity", str(bare.pk))
    text = _editor_text(page)
    assert "Dear Bob, see you at noon." in text
    assert "Cheers" not in text and "-- " not in text

    page.select_option("#id_identity", str(work.pk))
    text = _editor_text(page)
    assert text.startswith("Dear Bob, see you at noon.")
    assert "Alice, Work Ltd" in text

    # What the server keeps (autosave): the person's words and the chosen signature.
    def saved() -> bool:
        draft.refresh_from_db()
        # The whole sentence: an autosave made while typing holds only its start.
        return (draft.identity_id == work.pk
                and "Dear Bob, see you at noon." in draft.body_html)

    draft = Draft.objects.get(owner=alice)
    wait_for(saved, what="the autosave")
    assert "<strong>Alice</strong>" in draft.body_html
    assert "Dear Bob, see you at noon." in draft.body_html and "Cheers" not in draft.body_html
    assert page.js_errors == []


def test_a_signature_the_person_edited_is_left_alone(
        chromium_page: Any, live_server: Any, alice: User) -> None:  # noqa: F811
    page = chromium_page
    account = make_account(alice)
    work = ensure_default_identity(account)
    work.signature_html = "Alice at Work"
    work.save()
    home = Identity.objects.create(account=account, name="Alice", address=account.email,
                                   signature_html="Cheers, Al")
    _open_compose(page, live_server, alice)
    page.click("trix-editor")
    page.evaluate("""() => {  // the caret right after the signature's last word
      const editor = document.querySelector('trix-editor').editor;
      const at = editor.getDocument().toString().indexOf('Work') + 4;
      editor.setSelectedRange([at, at]);
    }""")
    page.keyboard.type(" (on leave until May)")

    page.select_option("#id_identity", str(home.pk))
    text = _editor_text(page)
    assert "Alice at Work (on leave until May)" in text and "Cheers" not in text
    assert page.js_errors == []


def test_in_plain_text_the_signature_follows_the_identity_too(
        chromium_page: Any, live_server: Any, alice: User) -> None:  # noqa: F811
    page = chromium_page
    account = make_account(alice)
    work = ensure_default_identity(account)
    work.signature_html, work.signature_text = "Alice, Work Ltd", "Alice, Work Ltd"
    work.save()
    home = Identity.objects.create(account=account, name="Alice", address=account.email,
                                   signature_html="Cheers<br>Al", signature_text="Cheers\nAl")
    _open_compose(page, live_server, alice)
    page.check("#id_plain_text")
    page.focus("#id_body_text")
    page.keyboard.press("Control+Home")
    page.keyboard.type("Plain words first.")

    page.select_option("#id_identity", str(home.pk))
    value = page.input_value("#id_body_text")
    assert value.startswith("Plain words first.")
    assert value.rstrip().endswith("-- \nCheers\nAl") and "Work Ltd" not in value
    assert page.js_errors == []
