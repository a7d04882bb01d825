"""Every form field on the main pages has a name a screen reader can say: a <label for>,
a wrapping <label>, or aria-label / aria-labelledby / title."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_french import french_world  # noqa: F401  (the fixture)

UNNAMED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.fields: list[dict[str, str]] = []
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._in_label += 1
            if values.get("for"):
                self.label_for.add(values["for"])
        if tag in {"input", "select", "textarea"} and \
                values.get("type", "text") not in UNNAMED_TYPES:
            self.fields.append({**values, "_tag": tag, "_wrapped": str(bool(self._in_label))})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._in_label:
            self._in_label -= 1


def unnamed_fields(html: str) -> list[str]:
    parser = _Fields()
    parser.feed(html)
    return [f"{f['_tag']} name={f.get('name')} id={f.get('id')}" for f in parser.fields
            if f["_wrapped"] != "True" and f.get("id", "") not in parser.label_for
            and not (f.get("aria-label") or f.get("aria-labelledby") or f.get("title"))]


@pytest.mark.django_db
def test_every_field_on_the_main_pages_has_an_accessible_name(
        alice_client: Client, french_world: dict[str, int]) -> None:  # noqa: F811
    ids = french_world
    pages = [
        reverse("home"), reverse("message", args=[ids["message"]]),
        reverse("label_messages", args=[ids["label"]]), reverse("label_settings"),
        reverse("personal_settings"), reverse("account_add"),
        reverse("account_edit", args=[ids["account"]]),
        reverse("draft_edit", args=[ids["draft"]]), reverse("identities"),
        reverse("address_book"), reverse("search") + "?q=lundi", reverse("data_import"),
        reverse("twofactor_setup"), reverse("password_change"),
    ]
    found = {url: unnamed_fields(alice_client.get(url).content.decode()) for url in pages}
    assert {url: fields for url, fields in found.items() if fields} == {}
