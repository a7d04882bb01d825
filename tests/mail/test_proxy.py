"""The image proxy against a real HTTP server on loopback, and the addresses it refuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from webmail.mail import proxy
from webmail.mail.proxy import PixelBlocker, ProxyRefused, fetch_image, tracking_pixels
from webmail.parsing.sanitize import sanitize_html

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


class Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def _send(self, status: int, content_type: str, body: bytes, *, length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        Handler.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        routes = {
            "/logo.png": lambda: self._send(200, "image/png", PNG),
            "/page.html": lambda: self._send(200, "text/html", b"<script>alert(1)</script>"),
            "/fake.png": lambda: self._send(200, "image/png", b"<html><script>x</script>"),
            "/drawing.svg": lambda: self._send(200, "image/svg+xml", b"<svg onload=alert(1)/>"),
            "/huge.png": lambda: self._send(200, "image/png", PNG + b"\x00" * 6_000_000),
            "/huge-unsized.png": lambda: self._send(
                200, "image/png", PNG + b"\x00" * 6_000_000, length=False
            ),
            "/missing.png": lambda: self._send(404, "text/plain", b"no"),
        }
        if self.path in routes:
            routes[self.path]()
        elif self.path == "/moved.png":
            self.send_response(302)
            self.send_header("Location", "/logo.png")
            self.end_headers()
        elif self.path == "/elsewhere.png":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/drip.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(PNG[:8])
            for _ in range(40):  # 1 byte every 0.1 s: every socket timeout is met
                time.sleep(0.1)
                try:
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
                except OSError:
                    return
        else:
            self._send(404, "text/plain", b"no")


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_allowed(settings: SettingsWrapper) -> None:
    settings.WEBMAIL_PROXY_ALLOW_PRIVATE = True


def test_an_image_is_fetched_without_cookies_or_referrer(
    image_server: str, private_allowed: None
) -> None:
    Handler.seen.clear()
    image = fetch_image(f"{image_server}/logo.png")

    assert image.content_type == "image/png"
    assert image.data == PNG
    request = Handler.seen[-1]
    assert "cookie" not in request and "referer" not in request
    assert request["user-agent"] == "Webmail image proxy"


def test_a_redirect_is_followed_and_checked_again(
    image_server: str, private_allowed: None
) -> None:
    assert fetch_image(f"{image_server}/moved.png").data == PNG
    with pytest.raises(ProxyRefused, match="only http and https"):
        fetch_image(f"{image_server}/elsewhere.png")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page.html", "not an image"),
        ("/drawing.svg", "not an image"),
        ("/fake.png", "not a image/png image"),
        ("/missing.png", "status 404"),
    ],
)
def test_what_is_not_a_raster_image_is_refused(
    image_server: str, private_allowed: None, path: str, reason: str
) -> None:
    with pytest.raises(ProxyRefused, match=reason):
        fetch_image(image_server + path)


@pytest.mark.parametrize("path", ["/huge.png", "/huge-unsized.png"])
def test_an_oversize_image_is_cut_off_with_an_error(
    image_server: str, private_allowed: None, path: str
) -> None:
    with pytest.raises(ProxyRefused, match="too big"):
        fetch_image(image_server + path)


def test_a_server_dripping_bytes_is_stopped_at_the_time_limit(
    image_server: str, private_allowed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy, "TIMEOUT_SECONDS", 1.0)
    started = time.monotonic()

    with pytest.raises(ProxyRefused, match="too slow"):
        fetch_image(f"{image_server}/drip.png")

    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/logo.png",
        "http://10.0.0.1/logo.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/logo.png",
        "http://[::1]/logo.png",
        "http://[::ffff:127.0.0.1]/logo.png",
        "http://[64:ff9b::a00:1]/logo.png",  # NAT64 of 10.0.0.1
        "http://[2002:a00:1::1]/logo.png",  # 6to4 of 10.0.0.1
        "http://0.0.0.0/logo.png",
        "http://224.0.0.1/logo.png",
        "http://240.0.0.1/logo.png",
        "http://100.64.0.1/logo.png",  # carrier-grade NAT
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(
    settings: SettingsWrapper, url: str
) -> None:
    settings.WEBMAIL_PROXY_ALLOW_PRIVATE = False
    Handler.seen.clear()

    with pytest.raises(ProxyRefused, match="not a public address"):
        fetch_image(url)


def test_the_loopback_test_server_itself_is_refused_unless_allowed(
    settings: SettingsWrapper, image_server: str
) -> None:
    settings.WEBMAIL_PROXY_ALLOW_PRIVATE = False
    Handler.seen.clear()

    with pytest.raises(ProxyRefused):
        fetch_image(f"{image_server}/logo.png")
    assert Handler.seen == []  # refused before connecting


@pytest.mark.parametrize(
    "url",
    ["ftp://example.test/a.png", "file:///etc/passwd", "javascript:alert(1)",
     "http:///a.png", "http://example.test:25/a.png", "http://example.test:99999/a.png"],
)
def test_other_schemes_and_ports_are_refused(url: str) -> None:
    with pytest.raises(ProxyRefused):
        fetch_image(url)


HTML = """
<p>Hello</p>
<img src="https://shop.test/banner.png" width="600" height="200">
<img src="https://t.test/open?id=1" width="1" height="1">
<img src="//t.test/open?id=2" style="display:none">
<img src="https://t.test/open?id=3" width=0>
<img src="https://t.test/open?id=4" style="WIDTH: 1px; height:1px">
<img src="https://t.test/open?id=5" hidden>
<img src="https://shop.test/spacer.gif" width="1" height="20">
<img src="cid:logo@shop.test" width="1" height="1">
"""


def test_tracking_pixels_are_found_by_size_or_hiding() -> None:
    assert tracking_pixels(HTML) == [
        "https://t.test/open?id=1",
        "https://t.test/open?id=2",
        "https://t.test/open?id=3",
        "https://t.test/open?id=4",
        "https://t.test/open?id=5",
    ]


def test_tracking_pixels_are_never_proxied_even_when_images_are_shown() -> None:
    proxied: list[str] = []

    def make(url: str) -> str:
        proxied.append(url)
        return f"/mail/message/1/image/?u={len(proxied)}"

    blocker = PixelBlocker(HTML, make)
    result = sanitize_html(HTML, allow_remote=True, proxy_url=blocker)

    assert blocker.count == 5
    assert proxied == ["https://shop.test/banner.png", "https://shop.test/spacer.gif"]
    assert "t.test" not in result.html
    assert result.html.count("<img") == 8
