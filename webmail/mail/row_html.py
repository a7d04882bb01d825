"""One message-list row as HTML, built in Python.

A page shows 50 rows; as a template (an include per row, seven translations, filters,
the label lookup) a row cost about 1 ms of CPU, two thirds of the list page's server
time (cProfile over bench/list_pages.py). Every value from the message goes through
`html.escape` (quotes included, so attribute values are safe too); the translated words
are looked up once per page (`row_words`) and escaped as well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from webmail.mail.models import Label
from webmail.mail.templatetags.mail_tags import isodate, maildate, sender, titledate


def row_words() -> dict[str, str]:
    """The row's fixed words in the active language, escaped."""
    return {key: escape(text) for key, text in {
        "select": _("Select"), "star": _("Star"), "unstar": _("Unstar"),
        "thread": _("Messages in this conversation"), "no_subject": _("(no subject)"),
        "attachments": _("Has attachments"), "unread": _("Unread"),
    }.items()}


def render_row(m: Any, *, urls: Mapping[str, str], chips: Sequence[Label],
               words: Mapping[str, str], threads: bool = False,
               oob: bool = False) -> SafeString:
    flagged, seen = bool(m.is_flagged), bool(m.is_seen)
    pk = int(m.pk)
    classes = "row" + ("" if seen else " unread") + (" flagged" if flagged else "")
    open_url = escape(f"{urls['message']}{pk}/")
    star_vals = escape(json.dumps({"action": "unstar" if flagged else "star", "ids": str(pk)}))
    subject = escape(m.subject or "")
    thread = ""
    if threads and (getattr(m, "thread_size", 0) or 0) > 1:
        thread = (f' <span class="thread-size" title="{words["thread"]}">'
                  f'{int(m.thread_size)}</span>')
    chip_html = ""
    if chips:
        chip_html = '<span class="chips">' + "".join(
            f'<span class="chip label-{escape(str(label.colour))}">{escape(label.name)}</span>'
            for label in chips) + "</span>"
    markers = ""
    if m.has_attachments:
        markers = (f'<span class="attach" title="{words["attachments"]}">📎'
                   f'<span class="visually-hidden">{words["attachments"]}</span></span>')
    if not seen:
        markers += f'<span class="visually-hidden">{words["unread"]}</span>'
    swap = ' hx-swap-oob="true"' if oob else ""
    html = (
        f'<li id="msg-{pk}" class="{classes}" draggable="true" data-id="{pk}" '
        f'data-account-id="{int(m.account_id)}"{swap}>\n'
        f'  <input type="checkbox" class="select" name="ids" value="{pk}" form="bulk" '
        f'aria-label="{words["select"]}: {subject}">\n'
        f'  <button type="button" class="star{" on" if flagged else ""}" '
        f'aria-pressed="{"true" if flagged else "false"}" '
        f'aria-label="{words["unstar"] if flagged else words["star"]}" '
        f'hx-post="{escape(urls["action"])}" hx-vals="{star_vals}" hx-target="#toast">★</button>\n'
        f'  <a class="open" href="{open_url}" hx-get="{open_url}" hx-target="#reader" '
        f'hx-push-url="true">\n'
        f'    <span class="from">{escape(sender(m))}{thread}</span>\n'
        f'    <span class="subject">{subject or words["no_subject"]}</span>\n'
        f'    {chip_html}<span class="snippet">{escape(m.snippet or "")}</span>\n'
        f'  </a>\n'
        f'  <span class="markers">{markers}</span>\n'
        f'  <time datetime="{escape(isodate(m.date))}" title="{escape(titledate(m.date))}">'
        f'{escape(maildate(m.date))}</time>\n'
        f'</li>'
    )
    return mark_safe(html)  # noqa: S308  (every value above is escaped)
