"""TLS for every client: verified certificates, an extra CA file, and certificate pins.

Verification is never switched off. Trust is the system store plus, optionally, one
extra CA file (an organisation's own CA, or the test CA in tests). An administrator may
instead pin one exact certificate (SHA-256 of its DER form) for a server whose
certificate no authority signed: then that certificate, and only it, is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from dataclasses import dataclass, field
from typing import Literal

Security = Literal["none", "starttls", "tls"]
# "password": LOGIN/PLAIN/USER-PASS; "oauth2": `password` holds an OAuth2 access token,
# sent with OAUTHBEARER where offered, else XOAUTH2 (webmail.protocols.sasl).
Auth = Literal["password", "oauth2"]


def normalize_fingerprint(value: str) -> str:
    """"AB:CD:..." or "abcd..." to 64 lowercase hex digits ("" stays "")."""
    cleaned = value.replace(":", "").replace(" ", "").strip().lower()
    if cleaned and (len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned)):
        raise ValueError("A SHA-256 fingerprint is 64 hexadecimal digits.")
    return cleaned


def fingerprint_of_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def peer_fingerprint(sock: ssl.SSLSocket) -> str:
    """SHA-256 (hex) of the DER certificate the peer presented on a TLS socket."""
    der = sock.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server presented no certificate")
    return fingerprint_of_der(der)


class PinMismatchError(ssl.SSLCertVerificationError):
    """The server's certificate is not the pinned one (mapped to CertificateUntrusted)."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(1, "certificate does not match the pinned fingerprint")
        self.verify_message = (
            f"its fingerprint {actual[:16]}… is not the trusted {expected[:16]}…"
        )
        self.verify_code = 0


class _PinnedSSLSocket(ssl.SSLSocket):
    """Checks the pin right after the handshake, inside wrap_socket().

    Every stdlib client (poplib, smtplib, imaplib/imapclient) wraps its socket with
    `context.wrap_socket()` and the handshake completes there, before the client reads
    a greeting or sends a single byte (credentials included); a mismatch closes the
    socket and raises from wrap_socket itself.
    """

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        context = self.context
        assert isinstance(context, PinnedSSLContext)
        actual = peer_fingerprint(self)
        if not hmac.compare_digest(actual, context.pinned_sha256):
            self.close()
            raise PinMismatchError(context.pinned_sha256, actual)


class PinnedSSLContext(ssl.SSLContext):
    """A client context that accepts exactly one certificate, by its SHA-256.

    The chain cannot be verified (that is why the pin exists), so the handshake itself
    runs with CERT_NONE and no host-name check; the pin comparison in
    _PinnedSSLSocket.do_handshake then decides, before anything is sent. The pin is
    stronger than CA trust: it names the certificate, not whoever a CA vouches for.
    """

    pinned_sha256: str = ""


def _pinned_context(pin: str) -> PinnedSSLContext:
    context = PinnedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.pinned_sha256 = pin
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _PinnedSSLSocket
    return context


def make_ssl_context(*, ca_file: str | None = None, pinned_sha256: str = "") -> ssl.SSLContext:
    """A verifying client context: system trust store + `ca_file`, or a pinned cert."""
    pin = normalize_fingerprint(pinned_sha256)
    if pin:
        return _pinned_context(pin)
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


@dataclass(frozen=True)
class ServerEndpoint:
    """Where and how to connect; used by every protocol client."""

    host: str
    port: int
    security: Security = "tls"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ca_file: str | None = None
    pinned_sha256: str = ""
    auth: Auth = "password"

    def __post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown security {self.security!r}")

    def ssl_context(self) -> ssl.SSLContext:
        return make_ssl_context(ca_file=self.ca_file, pinned_sha256=self.pinned_sha256)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"
