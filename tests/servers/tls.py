"""A session test CA (trustme), a server certificate for 127.0.0.1/localhost, and a
second, untrusted CA, all written as PEM files into a temporary directory.

Clients trust the test CA explicitly through `ca_file`; verification is never turned
off globally.
"""

from __future__ import annotations

import hashlib
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TLSFiles:
    directory: Path
    ca_file: str  # the test CA clients trust explicitly
    cert_file: str  # server certificate chain (leaf first) for 127.0.0.1 and localhost
    key_file: str  # its private key
    cert_sha256: str  # SHA-256 of the leaf's DER form (what a pin holds)
    untrusted_ca_file: str  # a CA nothing was signed by: "untrusted certificate" tests
    untrusted_cert_file: str  # a server cert for 127.0.0.1 signed by the untrusted CA
    untrusted_key_file: str
    untrusted_cert_sha256: str

    def server_context(self, *, untrusted: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if untrusted:
            ctx.load_cert_chain(self.untrusted_cert_file, self.untrusted_key_file)
        else:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the test CA (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_file)


def _der_sha256(cert: trustme.LeafCert) -> str:
    pem = cert.cert_chain_pems[0].bytes().decode()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def make_test_certificates(directory: Path | None = None) -> TLSFiles:
    root = directory or Path(tempfile.mkdtemp(prefix="webmail-tls-"))
    root.mkdir(parents=True, exist_ok=True)
    # Dovecot's login processes read nothing here (the master loads the files), but keep
    # the directory traversable for the unprivileged users anyway.
    root.chmod(0o755)

    ca = trustme.CA(organization_name="Webmail test CA")
    leaf = ca.issue_cert(*SERVER_NAMES)
    other = trustme.CA(organization_name="Untrusted test CA")
    other_leaf = other.issue_cert(*SERVER_NAMES)

    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    leaf.private_key_pem.write_to_path(str(root / "server-key.pem"))
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    (root / "server-cert.pem").write_bytes(chain)

    other.cert_pem.write_to_path(str(root / "untrusted-ca.pem"))
    other_leaf.private_key_pem.write_to_path(str(root / "untrusted-key.pem"))
    (root / "untrusted-cert.pem").write_bytes(
        b"".join(blob.bytes() for blob in other_leaf.cert_chain_pems)
    )
    for name in ("server-key.pem", "untrusted-key.pem"):
        (root / name).chmod(0o600)

    return TLSFiles(
        directory=root,
        ca_file=str(root / "ca.pem"),
        cert_file=str(root / "server-cert.pem"),
        key_file=str(root / "server-key.pem"),
        cert_sha256=_der_sha256(leaf),
        untrusted_ca_file=str(root / "untrusted-ca.pem"),
        untrusted_cert_file=str(root / "untrusted-cert.pem"),
        untrusted_key_file=str(root / "untrusted-key.pem"),
        untrusted_cert_sha256=_der_sha256(other_leaf),
    )
