"""The list row built in Python escapes every value it shows, in text and attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from webmail.mail.row_html import render_row, row_words

HOSTILE = '"><script>alert(1)</script><x a=\''


def row(**fields: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "pk": 7, "account_id": 3, "is_flagged": False, "is_seen": False,
        "has_attachments": True, "subject": HOSTILE, "from_name": HOSTILE,
        "from_address": "a@example.test", "snippet": HOSTILE, "thread_size": 2,
        "date": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)}
    values.update(fields)
    return SimpleNamespace(**values)


def test_hostile_subject_sender_snippet_and_label_are_escaped() -> None:
    label = SimpleNamespace(colour='red" onclick="x', name=HOSTILE)
    html = render_row(row(), urls={"action": "/mail/action/", "message": "/mail/message/"},
                      chips=[label], words=row_words(), threads=True)  # type: ignore[list-item]
    assert "<script>" not in html and "<x " not in html
    assert 'onclick="x' not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5  # label, snippet,
    # subject in the text and in the checkbox's label, sender
    assert 'class="row unread"' in html and 'class="thread-size"' in html
    star = "{&quot;action&quot;: &quot;star&quot;, &quot;ids&quot;: &quot;7&quot;}"
    assert f'hx-vals="{star}"' in html


def test_a_row_without_subject_says_so_and_a_flagged_row_offers_unstar() -> None:
    html = render_row(row(subject="", is_flagged=True, is_seen=True, has_attachments=False),
                      urls={"action": "/a/", "message": "/m/"}, chips=[], words=row_words(),
                      oob=True)
    assert "(no subject)" in html and 'aria-label="Unstar"' in html
    assert 'class="row flagged"' in html and 'hx-swap-oob="true"' in html
    assert "visually-hidden" not in html
