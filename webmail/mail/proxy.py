"""Fetch a remote image on the person's behalf, once they chose "Show images".

The browser never contacts the sender's server (no IP address, cookies or referrer
leak); we do, with limits: http and https only, public addresses only (checked on the
address we connect to, so DNS rebinding cannot point us inward), a few redirects, a
time limit, a size limit, and raster image types only. Nothing is sent but the URL.

Tracking pixels (1x1 or hidden remote images) are found in the message's HTML before
it is sanitized and never fetched, even after "Show images": `PixelBlocker` wraps the
sanitizer's proxy_url callback and counts them.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_BYTES = 5 * 1024 * 1024  # bigger "images" are not worth a mail reader's wait
TIMEOUT_SECONDS = 5.0  # per connection step and for the whole fetch
MAX_REDIRECTS = 3
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_CHUNK = 64 * 1024
# Images are served on the web ports; other low ports are mail, SSH, databases: a proxy
# that connects there on request is a port scanner.
_LOW_PORTS_ALLOWED = frozenset({80, 443})
# NAT64 well-known prefix: the IPv4 address inside is where the packets really go.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What the first bytes of each allowed type look like, so an HTML page declared as
# image/png is refused rather than passed on.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


class ProxyRefused(Exception):
    """The image is not fetched: bad URL, private address, too big, wrong type..."""


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str


_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: _IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(ip: _IP) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _allowed_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if getattr(settings, "WEBMAIL_PROXY_ALLOW_PRIVATE", False):
        return not ip.is_unspecified
    embedded = _embedded_ipv4(ip)
    return _public(ip) and (embedded is None or _public(embedded))


def _resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ProxyRefused(f"cannot resolve {host}") from exc
    addresses = [str(info[4][0]) for info in infos]
    # Every address must be public: a name that resolves to one public and one private
    # address is a rebinding trick.
    if not addresses or not all(_allowed_address(a) for a in addresses):
        raise ProxyRefused(f"{host} is not a public address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.opened: socket.socket | None = None

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.opened = self.sock


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address
        self.opened: socket.socket | None = None

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        self.opened = raw


class _Watchdog:
    """A hard stop for one exchange: socket timeouts restart on every byte received, so
    a server dripping its reply could otherwise hold a worker far past the deadline."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.fired = False
        self.timer = threading.Timer(seconds, self._abort)
        self.timer.daemon = True
        self.timer.start()

    def _abort(self) -> None:
        self.fired = True
        # Not connection.sock: http.client hands the socket to the response and forgets
        # it when the server says it will close the connection.
        sock = getattr(self.connection, "opened", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.timer.cancel()
        self.connection.close()


def _open(url: str, deadline: float) -> tuple[http.client.HTTPResponse, _Watchdog]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProxyRefused("only http and https URLs")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range
        raise ProxyRefused("bad port") from exc
    if port < 1024 and port not in _LOW_PORTS_ALLOWED:
        raise ProxyRefused("only web ports")
    address = _resolve(parts.hostname, port)
    remaining = max(0.1, deadline - time.monotonic())
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = cls(parts.hostname, port, address, remaining)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    watchdog = _Watchdog(connection, remaining)
    try:
        connection.request("GET", path, headers={
            "User-Agent": "Webmail image proxy",
            "Accept": "image/png,image/jpeg,image/gif,image/webp",
        })
        return connection.getresponse(), watchdog
    except (OSError, http.client.HTTPException, ValueError) as exc:
        watchdog.close()
        reason = "too slow" if watchdog.fired else f"fetch failed: {exc.__class__.__name__}"
        raise ProxyRefused(reason) from exc


def _read_body(response: http.client.HTTPResponse, watchdog: _Watchdog) -> bytes:
    declared = response.getheader("Content-Length") or ""
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise ProxyRefused("too big")
    chunks, size = [], 0
    while True:
        try:
            # read1: one receive at most, so the size limit is checked as bytes come.
            chunk = response.read1(_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            raise ProxyRefused("too slow" if watchdog.fired else "fetch failed") from exc
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BYTES:
            raise ProxyRefused("too big")
        chunks.append(chunk)
    # The watchdog's shutdown reads as an early end of the stream: never pass on a
    # cut image as if it were whole.
    if watchdog.fired:
        raise ProxyRefused("too slow")
    if declared.isdigit() and size != int(declared):
        raise ProxyRefused("incomplete")
    return b"".join(chunks)


def fetch_image(url: str) -> FetchedImage:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for _ in range(MAX_REDIRECTS + 1):
        response, watchdog = _open(url, deadline)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise ProxyRefused("redirect without a location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise ProxyRefused(f"status {response.status}")
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
            content_type = content_type.lower()
            if content_type not in IMAGE_TYPES:
                raise ProxyRefused(f"not an image we show: {content_type[:50]}")
            data = _read_body(response, watchdog)
            if not data.startswith(_MAGIC[content_type]) or (
                content_type == "image/webp" and data[8:12] != b"WEBP"
            ):
                raise ProxyRefused(f"not a {content_type} image")
            return FetchedImage(data=data, content_type=content_type)
        finally:
            response.close()
            watchdog.close()
    raise ProxyRefused("too many redirects")


# -- tracking pixels ------------------------------------------------------------------
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)"
    r"|(?:max-)?(?:width|height)\s*:\s*[01](?:\.0*)?(?:px)?\s*(?:!important\s*)?(?:;|$)",
    re.IGNORECASE,
)
_TINY = re.compile(r"^\s*[01](?:\.0*)?\s*(?:px)?\s*$", re.IGNORECASE)
_REMOTE = ("http://", "https://", "//")


def _normalise(url: str) -> str:
    """The form the sanitizer hands its proxy_url callback."""
    url = url.strip()
    return "https:" + url if url.startswith("//") else url


class _PixelFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pixels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        values = {name: value or "" for name, value in attrs}
        src = values.get("src", "")
        if not src.strip().lower().startswith(_REMOTE):
            return
        width, height = values.get("width", ""), values.get("height", "")
        # 1x1, or 1 by unspecified: a spacer 1 wide and 20 high is layout, not a pixel.
        small = [bool(_TINY.match(v)) for v in (width, height) if v.strip()]
        tiny = bool(small) and all(small)
        if tiny or "hidden" in values or _HIDDEN_STYLE.search(values.get("style", "")):
            self.pixels.append(_normalise(src))

    handle_startendtag = handle_starttag


def tracking_pixels(html: str) -> list[str]:
    """Remote images that are 1x1 or hidden: there to tell the sender you read it."""
    finder = _PixelFinder()
    try:
        finder.feed(html)
        finder.close()
    except (Exception, RecursionError):  # noqa: BLE001, S110 - keep what was found
        pass
    return finder.pixels


class PixelBlocker:
    """Wrap the sanitizer's proxy_url callback so tracking pixels are never fetched.

    `proxy_url` makes the proxied URL for real images; a pixel gets `blocked_url`
    instead (by default "": an <img src=""> makes no request at all). `count` is the
    number of pixels in the message, whether or not images are shown.
    """

    def __init__(self, html: str, proxy_url: Callable[[str], str], blocked_url: str = "") -> None:
        found = tracking_pixels(html)
        self.count = len(found)
        self.urls = frozenset(found)
        self.proxy_url = proxy_url
        self.blocked_url = blocked_url

    def __call__(self, url: str) -> str:
        if _normalise(url) in self.urls:
            return self.blocked_url
        return self.proxy_url(url)
